// Package sim builds and runs networks of hotline nodes: the folders of a
// testnet (a depositary and parties on one machine), and the in-process
// network the demo tells its story on.
package sim

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/server"
)

// Depositary is the id the testnet gives the depositary's node.
const Depositary = "DEP"

// TestnetConfig configures [Testnet].
type TestnetConfig struct {
	// Dir receives agreement.json and one node folder per party.
	Dir string
	// Parties are the parties' ids; the depositary is added.
	Parties []string
	// Names optionally gives parties' display names.
	Names map[string]string
	// Protocols optionally gives the protocol versions a party's directory
	// entry lists (tests of rolling upgrades); by default every version
	// this software speaks.
	Protocols map[string][]uint64
	// BasePort is the depositary's port; the parties follow in order.
	// Zero picks free ports.
	BasePort int
	// Host defaults to 127.0.0.1.
	Host string
	// Time is when the agreement is issued and the keys become valid.
	// Zero means now.
	Time time.Time
	// Node adjusts each node's config before it is written.
	Node func(party string, c *server.Config)
	// Unratified lists parties that do not ratify the agreement (tests of
	// the not_ratified refusal).
	Unratified []string
	// Endpoint, if set, gives the URL the agreement lists for a party whose
	// node listens on listen (tests put a proxy in front of a node).
	Endpoint func(party, listen string) string
	// Listen, for nodes served in this process, keeps each free port's
	// listener open and returns it in NodeInfo.Listener, so that nothing
	// else (another test's outgoing connection) takes the port between
	// choosing it and serving on it. The caller passes it to the server or
	// closes it. Ignored with a BasePort.
	Listen bool
}

// Network describes the folders a testnet made.
type Network struct {
	Dir       string
	Agreement string
	// Nodes lists every node, the depositary first.
	Nodes []NodeInfo
}

// NodeInfo is one node folder of a testnet.
type NodeInfo struct {
	Party  string
	Dir    string
	Listen string
	URL    string
	// Listener is open on Listen when TestnetConfig.Listen was set.
	Listener net.Listener `json:"-"`
}

// Testnet makes the folders of a network on one machine: keys for a
// depositary and each party, a signed agreement that every party ratified
// (the depositary relays and witnesses; logs are public), and a node folder
// per party listening on Host.
func Testnet(cfg TestnetConfig) (*Network, error) {
	nw, err := testnet(cfg)
	if err != nil && nw != nil {
		nw.closeListeners()
		nw = nil
	}
	return nw, err
}

func testnet(cfg TestnetConfig) (nw *Network, err error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Time.IsZero() {
		cfg.Time = time.Now()
	}
	ids := append([]string{Depositary}, cfg.Parties...)
	seen := map[string]bool{}
	for _, p := range ids {
		if err := hotline.CheckPartyID(p); err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("party %s named twice (%s is the depositary)", p, Depositary)
		}
		seen[p] = true
	}
	if len(cfg.Parties) < 2 {
		return nil, fmt.Errorf("a testnet needs at least two parties besides the depositary")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "agreement.json")); err == nil {
		return nil, fmt.Errorf("%s already holds a testnet (agreement.json exists)", cfg.Dir)
	}
	nw = &Network{Dir: cfg.Dir, Agreement: filepath.Join(cfg.Dir, "agreement.json")}
	keys := map[string]*hotline.KeySet{}
	sc := agreement.SampleConfig{Time: cfg.Time, Unratified: cfg.Unratified}
	for i, p := range ids {
		ks, err := hotline.GenerateKeySet(p, "")
		if err != nil {
			return nw, err
		}
		if err := ks.GenerateNextRoot(); err != nil {
			return nw, err
		}
		keys[p] = ks
		port := 0
		var l net.Listener
		if cfg.BasePort != 0 {
			port = cfg.BasePort + i
		} else if port, l, err = freePort(cfg.Host, cfg.Listen); err != nil {
			return nw, err
		}
		listen := hostPort(cfg.Host, port)
		ni := NodeInfo{Party: p, Dir: filepath.Join(cfg.Dir, p), Listen: listen, URL: "http://" + listen, Listener: l}
		if cfg.Endpoint != nil {
			ni.URL = cfg.Endpoint(p, listen)
		}
		nw.Nodes = append(nw.Nodes, ni)
		sp := agreement.SampleParty{Keys: ks, Name: cfg.Names[p], Endpoints: []string{ni.URL}, Protocols: cfg.Protocols[p]}
		if i == 0 {
			sc.Depositary = sp
		} else {
			sc.Parties = append(sc.Parties, sp)
		}
	}
	agr, err := agreement.Sample(sc)
	if err != nil {
		return nw, fmt.Errorf("building the agreement: %w", err)
	}
	if err := os.WriteFile(nw.Agreement, agr.Marshal(), 0o644); err != nil {
		return nw, err
	}
	for _, ni := range nw.Nodes {
		c := server.Config{
			Listen:    ni.Listen,
			Agreement: filepath.Join("..", "agreement.json"),
			LogPublic: true,
		}
		if cfg.Node != nil {
			cfg.Node(ni.Party, &c)
		}
		if _, err := server.Init(ni.Dir, ni.Party, server.InitOptions{Keys: withoutRoot(keys[ni.Party]), Config: c}); err != nil {
			return nw, err
		}
		// The root key stays out of the node folder: it signs directory
		// entries, offline. A testnet keeps it (and the pre-rotation key)
		// next to the folder.
		if err := saveRoot(filepath.Join(cfg.Dir, "root-keys", ni.Party), keys[ni.Party]); err != nil {
			return nw, err
		}
	}
	b, err := json.MarshalIndent(nw, "", "  ")
	if err != nil {
		return nw, err
	}
	return nw, os.WriteFile(filepath.Join(cfg.Dir, "testnet.json"), append(b, '\n'), 0o644)
}

func withoutRoot(ks *hotline.KeySet) *hotline.KeySet {
	c := *ks
	c.Root, c.NextRoot = nil, nil
	return &c
}

func saveRoot(dir string, ks *hotline.KeySet) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "root.key"), []byte(ks.Root.String()+"\n"), 0o600); err != nil {
		return err
	}
	// The pre-rotation key the agreement commits to: in a real network it
	// is kept offline apart from the root key.
	return os.WriteFile(filepath.Join(dir, "next-root.key"), []byte(ks.NextRoot.String()+"\n"), 0o600)
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// freePort asks the kernel for a free TCP port on host, and returns its
// listener still open if keep is set.
func freePort(host string, keep bool) (int, net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if !keep {
		l.Close()
		l = nil
	}
	return port, l, nil
}

// closeListeners closes the listeners Testnet kept open.
func (nw *Network) closeListeners() {
	for _, n := range nw.Nodes {
		if n.Listener != nil {
			n.Listener.Close()
		}
	}
}
