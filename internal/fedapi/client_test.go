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
