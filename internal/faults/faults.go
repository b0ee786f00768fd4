// Package faults runs a fault campaign against a testnet of real node
// processes, seeded and bounded, and checks the network's invariants after
// every round (hotline bench faults).
//
// It makes a testnet (the depositary DEP, a relay and witness, and three
// parties), starts every node as its own process (hotline serve) behind a
// TCP proxy that the agreement lists as the node's endpoint, and runs
// Rounds rounds. In each, the parties' operators send Messages/Rounds
// messages between random parties through their nodes' operator APIs;
// meanwhile one node's proxy delays, drops, resets or blackholes new
// connections for up to 3 s; and one node — the sender of a message in flight, a recipient, or
// the relay — is killed with SIGKILL at a random moment and started again
// after a random pause; or, in about one round in four, a party's node is
// backed up (stopped, copied, started) at the round's start, receives the
// round's messages, is killed, and is restored from the backup with hotline
// log restore before it starts again. When every node is back, the round
// waits until no outbox holds anything undelivered, then checks:
//
//   - every message an operator was told was sent is received once by each
//     recipient, and the receipt the recipient holds is the one the sender
//     holds (a receipt matches a durable envelope);
//   - every node's log is consistent with every checkpoint of it that any
//     witness holds cosigned;
//   - no node counts an equivocation or an alarm, or logs one (there was
//     no cause).
//
// The random choices come from Seed and the round's number: a campaign is
// the same campaign every time (the moments of the kills are real time, so
// what is in flight when one lands varies).
//
// Not injected yet (issue 19 asks for them): clock skew between nodes; a
// store that fails writes.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/tlog"
)

// Config configures a campaign. Binary is required.
type Config struct {
	Rounds   int
	Messages int // in all, spread over the rounds
	Seed     uint64
	// Binary is the hotline executable the nodes run as.
	Binary string
	// Dir receives the testnet and the nodes' logs (PARTY.log). Empty
	// means a temporary folder, removed at the end.
	Dir string
	// Progress, if set, receives a line per round.
	Progress io.Writer
	// Drain bounds the wait for every outbox to empty after a round. Zero
	// means 3 minutes.
	Drain time.Duration
}

// Round is what one round did.
type Round struct {
	Round      int      `json:"round"`
	Sent       int      `json:"sent"`
	Refused    int      `json:"refused"` // sends an operator was told failed (its node was down)
	Faults     []string `json:"faults"`
	Invariants int      `json:"invariants_checked"`
	Seconds    float64  `json:"seconds"`
}

// Result is a campaign's outcome. Violations lists the invariants that did
// not hold; a campaign passes when it is empty.
type Result struct {
	Seed       uint64   `json:"seed"`
	Rounds     []Round  `json:"rounds"`
	Sent       int      `json:"sent"`
	Faults     int      `json:"faults"`
	Invariants int      `json:"invariants_checked"`
	Violations []string `json:"violations"`
	Seconds    float64  `json:"seconds"`
}

// parties of the campaign's testnet, besides the depositary.
var parties = []string{"BER", "CRI", "DOR"}

const depositary = "DEP"

// proc is one node process.
type proc struct {
	party, dir, logFile string
	bin                 string
	mu                  sync.Mutex
	cmd                 *exec.Cmd
	done                chan struct{}
	op                  *server.OperatorEndpoint
	token               string
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "serve", "--dir", p.dir, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = io.Discard, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return p.ready(time.Minute)
}

// ready waits until the node answers /readyz.
func (p *proc) ready(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting (see %s)", p.party, p.logFile)
		default:
		}
		resp, err := p.op.Client.Get(p.op.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %v (see %s)", p.party, timeout, p.logFile)
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// call calls the node's operator API.
func (p *proc) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.op.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.op.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type sentMsg struct {
	id       string
	from, to string
}

const notice = `{"language":"en","title":"Fault campaign","summary":"A message of the fault campaign.","incident":{"start":"2026-11-26T22:00:00Z"}}`

// Run runs the campaign cfg describes.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Rounds < 1 || cfg.Messages < cfg.Rounds {
		return nil, errors.New("faults: want at least one round and one message per round")
	}
	if cfg.Binary == "" {
		return nil, errors.New("faults: Config.Binary is required")
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 3 * time.Minute
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hotline-faults-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	proxies := map[string]*proxy{}
	defer func() {
		for _, px := range proxies {
			px.close()
		}
	}()
	nw, err := sim.Testnet(sim.TestnetConfig{
		Dir: filepath.Join(dir, "net"), Parties: parties,
		// Peers reach each node through a proxy that injects network
		// faults.
		Endpoint: func(party, listen string) string {
			px, err := newProxy()
			if err != nil {
				panic(err) // a loopback listener
			}
			px.target = listen
			proxies[party] = px
			go px.serve()
			return "http://" + px.addr()
		},
		Node: func(_ string, c *server.Config) {
			c.RateLimit = server.RateLimitConfig{PerSecond: -1}
			c.CheckpointInterval = server.Duration(200 * time.Millisecond)
			c.HeartbeatInterval = server.Duration(5 * time.Second)
			c.Delivery.MinBackoff = server.Duration(100 * time.Millisecond)
			c.Delivery.MaxBackoff = server.Duration(2 * time.Second)
			c.Delivery.RelayAfter = server.Duration(3 * time.Second)
			c.Delivery.RelayPull = server.Duration(2 * time.Second)
			c.Delivery.RelayPush = server.Duration(2 * time.Second)
		},
	})
	if err != nil {
		return nil, err
	}
	procs := map[string]*proc{}
	defer func() {
		for _, p := range procs {
			p.stop(syscall.SIGTERM)
		}
	}()
	for _, n := range nw.Nodes {
		op, err := server.Operator(n.Dir)
		if err != nil {
			return nil, err
		}
		token, err := server.AdminToken(n.Dir)
		if err != nil {
			return nil, err
		}
		p := &proc{party: n.Party, dir: n.Dir, logFile: filepath.Join(dir, n.Party+".log"), bin: cfg.Binary, op: op, token: token}
		procs[n.Party] = p
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	res = &Result{Seed: cfg.Seed, Violations: []string{}}
	start := time.Now()
	var all []sentMsg
	per := cfg.Messages / cfg.Rounds
	for r := 1; r <= cfg.Rounds; r++ {
		n := per
		if r == cfg.Rounds {
			n = cfg.Messages - per*(cfg.Rounds-1)
		}
		round, sent, err := runRound(ctx, cfg, r, n, procs, proxies)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", r, err)
		}
		all = append(all, sent...)
		if err := drain(ctx, procs, cfg.Drain); err != nil {
			res.Violations = append(res.Violations, fmt.Sprintf("round %d: %v", r, err))
		}
		checked, violations := check(ctx, procs, nw, all)
		round.Invariants = checked
		round.Seconds = time.Since(start).Seconds() - res.Seconds
		res.Seconds += round.Seconds
		for _, v := range violations {
			res.Violations = append(res.Violations, fmt.Sprintf("round %d: %s", r, v))
		}
		res.Rounds = append(res.Rounds, *round)
		res.Sent += round.Sent
		res.Faults += len(round.Faults)
		res.Invariants += checked
		fmt.Fprintf(cfg.Progress, "round %d: %d sent (%d refused), faults: %s; %d invariants checked, %d violated (%.1fs)\n",
			r, round.Sent, round.Refused, strings.Join(round.Faults, ", "), checked, len(violations), round.Seconds)
		if len(violations) > 0 {
			break
		}
	}
	return res, nil
}

// runRound sends n messages between random parties while one node is
// killed and started again.
func runRound(ctx context.Context, cfg Config, r, n int, procs map[string]*proc, proxies map[string]*proxy) (*Round, []sentMsg, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(r)))
	round := &Round{Round: r, Faults: []string{}}
	// A network fault at one node's proxy, for a while from a message on.
	netAt := rng.IntN(n)
	netParty := append([]string{depositary}, parties...)[rng.IntN(len(parties)+1)]
	netFault := []string{faultDelay, faultDrop, faultReset, faultBlackhole}[rng.IntN(4)]
	netDelay := time.Duration(100+rng.IntN(900)) * time.Millisecond
	netFor := time.Duration(500+rng.IntN(2500)) * time.Millisecond
	desc := fmt.Sprintf("%s at %s's port from message %d for %v", netFault, netParty, netAt+1, netFor)
	if netFault == faultDelay {
		desc = fmt.Sprintf("delay of %v at %s's port from message %d for %v", netDelay, netParty, netAt+1, netFor)
	}
	round.Faults = append(round.Faults, desc)
	healed := make(chan struct{})
	var netOnce sync.Once
	injectNet := func(i int) {
		if i < netAt {
			return
		}
		netOnce.Do(func() {
			proxies[netParty].set(netFault, netDelay)
			go func() {
				time.Sleep(netFor)
				proxies[netParty].set(faultNone, 0)
				close(healed)
			}()
		})
	}
	waitHealed := func() {
		injectNet(n) // if no message reached it
		<-healed
	}
	defer waitHealed()
	type plan struct{ from, to string }
	plans := make([]plan, n)
	for i := range plans {
		from := parties[rng.IntN(len(parties))]
		to := parties[rng.IntN(len(parties)-1)]
		if to == from {
			to = parties[len(parties)-1]
		}
		plans[i] = plan{from, to}
	}
	if rng.IntN(4) == 3 {
		return restoreRound(ctx, cfg, rng, round, n, procs, injectNet, waitHealed)
	}
	at := rng.IntN(n)
	var victim, role string
	switch rng.IntN(3) {
	case 0:
		victim, role = plans[at].from, "sender"
	case 1:
		victim, role = plans[at].to, "recipient"
	default:
		victim, role = depositary, "relay"
	}
	pause := time.Duration(rng.IntN(2000)) * time.Millisecond
	round.Faults = append(round.Faults, fmt.Sprintf("SIGKILL %s %s at message %d, down %v", role, victim, at+1, pause))

	var (
		mu     sync.Mutex
		sent   []sentMsg
		killed = make(chan error, 1)
		next   = make(chan int)
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				injectNet(i)
				if i == at {
					go func() {
						p := procs[victim]
						p.stop(syscall.SIGKILL)
						time.Sleep(pause)
						killed <- p.start()
					}()
				}
				var out opapi.SentResponse
				err := procs[plans[i].from].call(ctx, http.MethodPost, "/api/v1/messages", opapi.SendRequest{
					To: []string{plans[i].to}, Kind: "notification", Severity: "high", Marking: "AMBER",
					Exercise: true, Body: json.RawMessage(notice),
				}, &out)
				mu.Lock()
				if err != nil {
					round.Refused++
				} else {
					sent = append(sent, sentMsg{id: out.ID, from: plans[i].from, to: plans[i].to})
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := <-killed; err != nil {
		return nil, nil, fmt.Errorf("starting %s again: %w", victim, err)
	}
	round.Sent = len(sent)
	return round, sent, nil
}

// restoreRound backs a party's node up (stopped, copied, started again),
// sends n messages between random parties, the party only receiving,
// waits until they are delivered, then kills the node, puts the backup in
// its place, runs hotline log restore on it and starts it again: a restore
// from backup mid-run.
func restoreRound(ctx context.Context, cfg Config, rng *rand.Rand, round *Round, n int, procs map[string]*proc, injectNet func(int), waitHealed func()) (*Round, []sentMsg, error) {
	victim := parties[rng.IntN(len(parties))]
	var others []string
	for _, p := range parties {
		if p != victim {
			others = append(others, p)
		}
	}
	p := procs[victim]
	backup := p.dir + fmt.Sprintf(".backup-%d", round.Round)
	p.stop(syscall.SIGTERM)
	if err := copyDir(p.dir, backup); err != nil {
		return nil, nil, fmt.Errorf("backing up %s: %w", victim, err)
	}
	if err := p.start(); err != nil {
		return nil, nil, err
	}
	var sent []sentMsg
	for i := range n {
		injectNet(i)
		from := others[rng.IntN(len(others))]
		to := parties[rng.IntN(len(parties)-1)]
		if to == from {
			to = parties[len(parties)-1]
		}
		var out opapi.SentResponse
		if err := procs[from].call(ctx, http.MethodPost, "/api/v1/messages", opapi.SendRequest{
			To: []string{to}, Kind: "notification", Severity: "high", Marking: "AMBER",
			Exercise: true, Body: json.RawMessage(notice),
		}, &out); err != nil {
			round.Refused++
			continue
		}
		sent = append(sent, sentMsg{id: out.ID, from: from, to: to})
	}
	round.Sent = len(sent)
	if err := drain(ctx, procs, cfg.Drain); err != nil {
		return nil, nil, err
	}
	// The restore asks every peer: it runs once the network is whole
	// again (a peer it cannot reach stops it, as it should).
	waitHealed()
	p.stop(syscall.SIGKILL)
	if err := os.RemoveAll(p.dir); err != nil {
		return nil, nil, err
	}
	if err := copyDir(backup, p.dir); err != nil {
		return nil, nil, fmt.Errorf("restoring %s from its backup: %w", victim, err)
	}
	var restored struct {
		Before, After uint64
		Stored        int
	}
	out, err := exec.CommandContext(ctx, p.bin, "log", "restore", "--dir", p.dir, "--json").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, nil, fmt.Errorf("hotline log restore --dir %s: %w", p.dir, err)
	}
	if err := json.Unmarshal(out, &restored); err != nil {
		return nil, nil, fmt.Errorf("hotline log restore's report: %w", err)
	}
	round.Faults = append(round.Faults, fmt.Sprintf("SIGKILL %s, restored from a backup of the round's start: log %d → %d entries, %d messages stored again",
		victim, restored.Before, restored.After, restored.Stored))
	if err := p.start(); err != nil {
		return nil, nil, err
	}
	return round, sent, nil
}

// copyDir copies a node folder's regular files (not a running node's
// operator socket).
func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
}

// drain waits until no node has anything undelivered.
func drain(ctx context.Context, procs map[string]*proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, party := range parties {
			var st opapi.StatusResponse
			if err := procs[party].call(ctx, http.MethodGet, "/api/v1/status", nil, &st); err != nil {
				return err
			}
			left += int(st.Undelivered)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d deliveries still pending after %v", left, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// check checks the invariants over every message sent so far and every
// log, and returns how many checks it made and the violations.
func check(ctx context.Context, procs map[string]*proc, nw *sim.Network, sent []sentMsg) (int, []string) {
	checked := 0
	var bad []string
	fail := func(format string, a ...any) {
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(format, a...))
		}
	}
	for _, m := range sent {
		var out, in opapi.Message
		if err := procs[m.from].call(ctx, http.MethodGet, "/api/v1/messages/"+m.id, nil, &out); err != nil {
			fail("%s: the sender has no message told sent: %v", m.id, err)
			continue
		}
		checked++
		if len(out.Deliveries) != 1 || out.Deliveries[0].State != "delivered" || out.Deliveries[0].Receipt == nil {
			fail("%s: not delivered to %s: %+v", m.id, m.to, out.Deliveries)
			continue
		}
		if err := procs[m.to].call(ctx, http.MethodGet, "/api/v1/messages/"+m.id, nil, &in); err != nil {
			fail("%s: %s holds no message the sender holds a receipt for: %v", m.id, m.to, err)
			continue
		}
		checked++
		if in.Direction != "received" || in.Receipt == nil || in.Receipt.Note != out.Deliveries[0].Receipt.Note {
			fail("%s: %s's receipt is not the one %s holds", m.id, m.to, m.from)
			continue
		}
		checked++
	}
	// Logs against every witness's cosigned checkpoint of them.
	agr, err := loadAgreement(nw)
	if err != nil {
		return checked, append(bad, err.Error())
	}
	now := time.Now()
	for _, owner := range append([]string{depositary}, parties...) {
		logKey, err := agr.CheckpointKey(owner, now)
		if err != nil {
			fail("%s's checkpoint key: %v", owner, err)
			continue
		}
		eps, _ := agr.Endpoints(owner)
		if len(eps) == 0 {
			fail("%s has no endpoint", owner)
			continue
		}
		remote, err := tlog.NewRemote(tlog.RemoteConfig{URL: eps[0] + "/log", Verifier: logKey})
		if err != nil {
			fail("%v", err)
			continue
		}
		latest, err := remote.Checkpoint(ctx)
		if err != nil {
			fail("%s's log: %v", owner, err)
			continue
		}
		checked++
		for _, w := range append([]string{depositary}, parties...) {
			if w == owner {
				continue
			}
			wk, err := agr.WitnessKey(w, now)
			if err != nil {
				fail("%s's witness key: %v", w, err)
				continue
			}
			weps, _ := agr.Endpoints(w)
			cp, err := tlog.FetchCosigned(ctx, nil, weps[0]+"/witness", logKey, wk)
			if err != nil {
				// A witness that has not cosigned this log yet holds
				// nothing to check against.
				continue
			}
			newer, older := latest, cp
			if cp.Size > latest.Size {
				newer, older = cp, latest
			}
			if _, err := remote.VerifyConsistency(ctx, older, newer); err != nil {
				fail("%s's log is not consistent with the checkpoint of size %d witness %s holds: %v", owner, cp.Size, w, err)
				continue
			}
			checked++
		}
	}
	// No alarm without cause: in the counters, and in the nodes' logs.
	for _, party := range append([]string{depositary}, parties...) {
		n, err := alarms(ctx, procs[party])
		if err != nil {
			fail("%s's metrics: %v", party, err)
			continue
		}
		if n > 0 {
			fail("%s counts %d equivocations or alarms", party, n)
		}
		checked++
		lines, err := alarmLines(procs[party].logFile)
		if err != nil {
			fail("%s's log: %v", party, err)
			continue
		}
		for _, l := range lines {
			fail("%s logged: %s", party, l)
		}
		checked++
	}
	return checked, bad
}

// alarmMessages are the messages a node logs at error level when it holds
// something against a peer or itself (OPERATIONS.md, "What to watch").
var alarmMessages = []string{"ALARM", "EQUIVOCATION", "equivocation", "receipt not backed", "ALERT", "log rewound"}

// alarmLines returns the error-level lines of a node's log (JSON lines)
// that raise an alarm, at most 5.
func alarmLines(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		var l struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "ERROR" {
			continue
		}
		for _, m := range alarmMessages {
			if strings.Contains(l.Msg, m) {
				if len(line) > 300 {
					line = line[:300] + "…"
				}
				out = append(out, line)
				break
			}
		}
		if len(out) == 5 {
			break
		}
	}
	return out, nil
}

// alarms sums a node's equivocation and agreement alarm counters.
func alarms(ctx context.Context, p *proc) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.op.Base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.op.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	total := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "hotline_equivocations_total") || strings.HasPrefix(line, "hotline_agreement_alarms_total") {
			var v float64
			if f := strings.Fields(line); len(f) == 2 {
				fmt.Sscan(f[1], &v)
			}
			total += int(v)
		}
	}
	return total, nil
}

func loadAgreement(nw *sim.Network) (*agreement.Agreement, error) {
	return agreement.Load(nw.Agreement)
}
