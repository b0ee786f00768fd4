// Package testnode runs a testnet's nodes in the test's own process: the
// folders [sim.Testnet] makes, each opened with [server.Open] on a
// loopback listener and served until the test ends — the code path of
// hotline serve, with real SQLite stores, real logs and real HTTP between
// the nodes. It is for tests only: the integration tests of packages
// server, bench, fedapi and opapi share it instead of each keeping a copy.
package testnode

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
)

// Config says which testnet to make and how to run it.
type Config struct {
	// Testnet makes the folders; its Dir defaults to a temporary folder
	// and its Listen is set (unless it names a BasePort).
	Testnet sim.TestnetConfig
	// Run lists the parties whose nodes run; nil runs every node. The
	// others' listeners are closed, so they refuse connections.
	Run []string
	// Options, if set, adjusts each node's server options.
	Options func(party string, o *server.Options)
}

// Net is a testnet whose nodes run in this process.
type Net struct {
	*sim.Network
	// Servers holds the running nodes by party.
	Servers map[string]*server.Server
}

// Start makes the testnet cfg describes and serves its nodes until the
// test ends; the cleanup stops them and waits for them. With Run empty
// but not nil, it only makes the folders: a test of one package takes
// the agreement and the parties' keys from them.
func Start(tb testing.TB, cfg Config) *Net {
	tb.Helper()
	tc := cfg.Testnet
	if tc.Dir == "" {
		tc.Dir = tb.TempDir()
	}
	tc.Listen = tc.BasePort == 0
	nw, err := sim.Testnet(tc)
	if err != nil {
		tb.Fatal(err)
	}
	tn := &Net{Network: nw, Servers: map[string]*server.Server{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for _, n := range nw.Nodes {
		if cfg.Run != nil && !slices.Contains(cfg.Run, n.Party) {
			if n.Listener != nil {
				n.Listener.Close()
			}
			continue
		}
		o := server.Options{Bodies: Templates(tb), Listener: n.Listener}
		if cfg.Options != nil {
			cfg.Options(n.Party, &o)
		}
		s, err := server.Open(ctx, n.Dir, o)
		if err != nil {
			tb.Fatalf("opening %s: %v", n.Party, err)
		}
		tn.Servers[n.Party] = s
		wg.Go(func() {
			if err := s.Serve(ctx); err != nil {
				tb.Errorf("%s: %v", n.Party, err)
			}
		})
	}
	return tn
}

// Folder returns a party's node folder.
func (tn *Net) Folder(party string) string {
	for _, n := range tn.Nodes {
		if n.Party == party {
			return n.Dir
		}
	}
	return ""
}

// Agreement returns the testnet's agreement, as its nodes load it.
func (tn *Net) Agreement(tb testing.TB) *agreement.Agreement {
	tb.Helper()
	a, err := agreement.Load(filepath.Join(tn.Dir, "agreement.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// Keys returns a party's keys, root key included, from its node folder.
func (tn *Net) Keys(tb testing.TB, party string) *hotline.KeySet {
	tb.Helper()
	ks, err := hotline.LoadKeySet(filepath.Join(tn.Folder(party), server.KeysDir))
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

var (
	templatesOnce sync.Once
	templates     *node.Templates
	templatesErr  error
)

// Templates returns the body checker nodes use, compiled once per test
// binary (the STIX schemas take a while).
func Templates(tb testing.TB) *node.Templates {
	tb.Helper()
	templatesOnce.Do(func() { templates, templatesErr = node.NewTemplates() })
	if templatesErr != nil {
		tb.Fatal(templatesErr)
	}
	return templates
}
