package tlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline/internal/clock"
	"github.com/hotline-net/hotline/internal/poll"
)

// klogOutput receives Tessera's klog lines during the tests. klog's logger
// can only be set before goroutines log, hence once, here.
var klogOutput syncBuffer

func TestMain(m *testing.M) {
	RouteKlog(slog.New(slog.NewTextHandler(&klogOutput, nil)))
	os.Exit(m.Run())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testKey is a log's checkpoint key.
type testKey struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

func newTestKey(tb testing.TB, origin string) testKey {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return testKey{s, v, vkey}
}

// newTestCosignerKey returns a cosignature/v1 private key string and its
// vkey.
func newTestCosignerKey(tb testing.TB, name string) (skey, vkey string) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	vkey, err = CosignerVerifierKey(name, pub)
	if err != nil {
		tb.Fatal(err)
	}
	id := strings.Split(vkey, "+")[1]
	skey = "PRIVATE+KEY+" + name + "+" + id + "+" + base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...))
	return skey, vkey
}

func newFakeClock() *clock.Fake { return clock.NewFake(time.Unix(1_750_000_000, 0)) }

// newTestLog opens a log in a fresh directory with fast checkpoints and
// closes it at the end of the test.
func newTestLog(tb testing.TB, key testKey, edit func(*Config)) *Log {
	tb.Helper()
	cfg := Config{
		Dir:                tb.TempDir(),
		Signer:             key.signer,
		Verifier:           key.verifier,
		CheckpointInterval: 100 * time.Millisecond,
		RepublishInterval:  time.Second,
		WitnessTimeout:     2 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// waitForSize waits until the log publishes a checkpoint of at least size.
func waitForSize(tb testing.TB, l *Log, size uint64) Checkpoint {
	tb.Helper()
	var cp Checkpoint
	poll.MustTrue(tb, fmt.Sprintf("a checkpoint of size %d", size), func() bool {
		var err error
		cp, err = l.Checkpoint()
		return err == nil && cp.Size >= size
	})
	return cp
}

// entryFor returns a distinct entry for i and a tag.
func entryFor(tag string, i int) [32]byte {
	var e [32]byte
	copy(e[:], tag)
	binary.BigEndian.PutUint64(e[24:], uint64(i))
	return e
}

func newServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// serveLog serves l's tiles under /log/ of a test server.
func serveLog(tb testing.TB, l *Log) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// memTree is an in-memory RFC 6962 tree with signed checkpoints.
type memTree struct {
	*testonly.Tree
	key testKey
}

func newMemTree(key testKey, entries ...string) *memTree {
	t := &memTree{Tree: testonly.New(rfc6962.DefaultHasher), key: key}
	for _, e := range entries {
		t.AppendData([]byte(e))
	}
	return t
}

func (t *memTree) grow(tag string, n int) *memTree {
	for i := 0; i < n; i++ {
		e := entryFor(tag, int(t.Size()))
		t.AppendData(e[:])
	}
	return t
}

// checkpoint signs the checkpoint of the tree at size.
func (t *memTree) checkpoint(tb testing.TB, size uint64) []byte {
	tb.Helper()
	return signCheckpoint(tb, t.key, size, [HashSize]byte(t.HashAt(size)))
}

func signCheckpoint(tb testing.TB, key testKey, size uint64, root [HashSize]byte) []byte {
	tb.Helper()
	b, err := note.Sign(&note.Note{Text: string(checkpointText(key.signer.Name(), size, root))}, key.signer)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// copyDir replaces dst with a copy of src.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.RemoveAll(dst); err != nil {
		tb.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		tb.Fatal(err)
	}
}

func removeAll(dir string) error { return os.RemoveAll(dir) }
