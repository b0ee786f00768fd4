package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/server"
)

// bin is the hotline binary the tests run, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hotline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "hotline")
	build := exec.Command("go", "build", "-o", bin, "github.com/hotline-net/hotline/cmd/hotline")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hotline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the hotline binary to completion and returns its standard
// output, failing the test on a non-zero exit.
func run(tb testing.TB, args ...string) string {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("hotline %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// testnet makes a testnet with the CLI and returns its folder.
func testnet(tb testing.TB, parties ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	run(tb, "testnet", "--parties", strings.Join(parties, ","), "--dir", dir)
	// Fast retries: the tests kill nodes and wait for the outbox to drain.
	for _, p := range append([]string{"DEP"}, parties...) {
		cfgPath := filepath.Join(dir, p, server.ConfigFile)
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			tb.Fatal(err)
		}
		var c map[string]any
		json.Unmarshal(b, &c)
		c["delivery"] = map[string]any{"min_backoff": "50ms", "max_backoff": "300ms"}
		c["checkpoint_interval"] = "200ms"
		b, _ = json.MarshalIndent(c, "", "  ")
		if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// proc is a running "hotline serve".
type proc struct {
	tb     testing.TB
	party  string
	dir    string
	cmd    *exec.Cmd
	url    string
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
}

// start runs "hotline serve --dir net/party" with env added, and waits
// until it is ready.
func start(tb testing.TB, netDir, party string, env ...string) *proc {
	tb.Helper()
	p := &proc{tb: tb, party: party, dir: filepath.Join(netDir, party), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--dir", p.dir, "--log-level", "warn")
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() { p.kill() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), " serving on "); ok {
				lines <- url
			}
		}
	}()
	select {
	case p.url = <-lines:
	case <-p.done:
		tb.Fatalf("%s exited before serving:\n%s", party, p.log())
	case <-time.After(60 * time.Second):
		tb.Fatalf("%s did not start:\n%s", party, p.log())
	}
	poll.Must(tb, party+" ready", func() (bool, error) {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL and waits for the process to die.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and checks that the node exits 0 promptly.
func (p *proc) stop() {
	p.tb.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.tb.Fatalf("%s did not stop within 30 s of SIGTERM", p.party)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.tb.Errorf("%s exited %d after SIGTERM:\n%s", p.party, code, p.log())
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// operator calls a node's operator API with its folder's admin token.
type operator struct {
	base, token string
	http        *http.Client
}

func newOperator(tb testing.TB, netDir, party string) *operator {
	tb.Helper()
	dir := filepath.Join(netDir, party)
	op, err := server.Operator(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := server.AdminToken(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return &operator{base: op.Base, token: tok, http: op.Client}
}

func (o *operator) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := o.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

const noticeBody = `{"language":"en","title":"Scanning from a hosting provider","summary":"Repeated scanning of energy control networks.","incident":{"start":"2026-11-26T22:00:00Z"}}`

// send sends a notification to the parties (or group) and returns its id.
func (o *operator) send(ctx context.Context, to []string, group string) (string, error) {
	var resp opapi.SentResponse
	err := o.call(ctx, http.MethodPost, "/api/v1/messages", opapi.SendRequest{
		To: to, Group: group, Kind: "notification", Severity: "high", Marking: "AMBER",
		Body: json.RawMessage(noticeBody),
	}, &resp)
	return resp.ID, err
}

func (o *operator) status(tb testing.TB) opapi.StatusResponse {
	tb.Helper()
	var s opapi.StatusResponse
	if err := o.call(context.Background(), http.MethodGet, "/api/v1/status", nil, &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// received lists the ids of every message the node received, failing on a
// duplicate.
func (o *operator) received(tb testing.TB) map[string]bool {
	tb.Helper()
	ids := map[string]bool{}
	cursor := ""
	for {
		q := "/api/v1/messages?direction=received&limit=1000"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		var list opapi.MessageList
		if err := o.call(context.Background(), http.MethodGet, q, nil, &list); err != nil {
			tb.Fatal(err)
		}
		for _, m := range list.Messages {
			if ids[m.ID] {
				tb.Errorf("message %s listed twice", m.ID)
			}
			ids[m.ID] = true
		}
		if cursor = list.Next; cursor == "" {
			return ids
		}
	}
}

// drained waits until the node has no undelivered outbox rows.
func (o *operator) drained(tb testing.TB, party string) {
	tb.Helper()
	poll.Must(tb, party+"'s outbox to drain", func() (bool, error) {
		var s opapi.StatusResponse
		if err := o.call(context.Background(), http.MethodGet, "/api/v1/status", nil, &s); err != nil {
			return false, nil
		}
		return s.Undelivered == 0, nil
	})
}

// servedLog reads a node's log as any tlog client would: the checkpoint,
// verified with the checkpoint key the agreement lists, then every tile,
// checked by golang.org/x/mod/sumdb/tlog against the checkpoint's root, and
// every entry bundle, each entry checked against the verified tiles. It
// returns the entries by value with their indices.
func servedLog(tb testing.TB, netDir, party, url string) (size int64, entries map[[32]byte][]int64) {
	tb.Helper()
	agr, err := agreement.Load(filepath.Join(netDir, "agreement.json"))
	if err != nil {
		tb.Fatal(err)
	}
	k, err := agr.Key(party, hotline.RoleCheckpoint, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(k.Key)
	if err != nil {
		tb.Fatal(err)
	}
	cp := get(tb, url+"/log/checkpoint")
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		tb.Fatalf("%s's checkpoint does not verify with its key in agreement.json: %v", party, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		tb.Fatalf("%s's checkpoint: %q", party, n.Text)
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	rootHash, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootHash) != tlog.HashSize {
		tb.Fatalf("%s's checkpoint root hash: %q", party, lines[2])
	}
	tree := tlog.Tree{N: size, Hash: tlog.Hash(rootHash)}
	hr := tlog.TileHashReader(tree, &tileReader{tb: tb, url: url})

	entries = map[[32]byte][]int64{}
	for start := int64(0); start < size; start += 256 {
		w := min(size-start, 256)
		path := fmt.Sprintf("%s/log/tile/entries/%s", url, tileIndex(start/256))
		if w < 256 {
			path += fmt.Sprintf(".p/%d", w)
		}
		bundle := get(tb, path)
		idx := make([]int64, w)
		for i := range idx {
			idx[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		hashes, err := hr.ReadHashes(idx)
		if err != nil {
			tb.Fatalf("%s's tiles do not hash to its checkpoint: %v", party, err)
		}
		for i := range w {
			if len(bundle) < 2 || int(bundle[0])<<8|int(bundle[1]) != 32 || len(bundle) < 34 {
				tb.Fatalf("%s's entry bundle at %d is malformed", party, start)
			}
			var e [32]byte
			copy(e[:], bundle[2:34])
			bundle = bundle[34:]
			if tlog.RecordHash(e[:]) != hashes[i] {
				tb.Fatalf("%s's entry %d is not the one its tree holds", party, start+i)
			}
			entries[e] = append(entries[e], start+i)
		}
	}
	return size, entries
}

// tileIndex writes a tile index as C2SP tlog-tiles paths do: groups of
// three digits, all but the last prefixed with "x".
func tileIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

type tileReader struct {
	tb  testing.TB
	url string
}

func (r *tileReader) Height() int { return 8 }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := fmt.Sprintf("%s/log/tile/%d/%s", r.url, t.L, tileIndex(t.N))
		if t.W < 256 {
			path += fmt.Sprintf(".p/%d", t.W)
		}
		out[i] = get(r.tb, path)
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// httpClient reads nodes' logs on their peer ports.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func get(tb testing.TB, url string) []byte {
	tb.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != 200 {
		tb.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b
}
