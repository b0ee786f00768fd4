package fedapi_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/fedapi"
)

// TestClientKeepsConnections (issue 18 finding 9): the client node-to-node
// delivery uses keeps as many idle connections to a peer as deliveries run
// at once (16 workers), so a second burst reuses the first's connections;
// http.DefaultTransport kept 2 and opened 14 again.
func TestClientKeepsConnections(t *testing.T) {
	const workers = 16
	var (
		conns   atomic.Int64
		mu      sync.Mutex
		waiting int
		release = make(chan struct{})
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold each burst until all of it is in flight, so that it takes
		// workers connections at once.
		mu.Lock()
		waiting++
		if waiting == workers {
			close(release)
			waiting, release = 0, make(chan struct{})
			mu.Unlock()
		} else {
			c := release
			mu.Unlock()
			<-c
		}
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	ks, err := hotline.GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	c := &fedapi.Client{Key: ks.Message}
	burst := func() {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				if _, err := c.PostEnvelope(context.Background(), "CRI", srv.URL, []byte("view")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	burst()
	first := conns.Load()
	burst()
	if again := conns.Load() - first; again > workers/4 {
		t.Errorf("the second burst of %d opened %d new connections (the first opened %d)", workers, again, first)
	}
}

// TestClientSignsHighestCommonVersion: the client signs in the highest
// protocol version both it and the peer's directory entry list.
func TestClientSignsHighestCommonVersion(t *testing.T) {
	ks, err := hotline.GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		lists   []uint64
		version string // "" for version 1; "-" for none
	}{
		{"lists 1 and 2", []uint64{1, 2}, "2"},
		{"lists 1 only", []uint64{1}, ""},
		{"lists 2 and 3", []uint64{2, 3}, "2"},
		{"unknown", nil, "2"},
		{"lists 3 only", []uint64{3}, "-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &fedapi.Client{Key: ks.Message, Protocols: func(string) []uint64 { return tt.lists }}
			req, _ := http.NewRequest(http.MethodPost, "http://cri.example/v1/envelopes", nil)
			err := c.Sign(req, []byte("body"), "CRI")
			if tt.version == "-" {
				if hotline.ErrorCode(err) != "unsupported_version" {
					t.Errorf("Sign: %v, want unsupported_version", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get(fedapi.HeaderVersion); got != tt.version || req.Header.Get(fedapi.HeaderSignature) == "" {
				t.Errorf("Hotline-Version %q, want %q", got, tt.version)
			}
		})
	}
}
