package bench_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/bench"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/testnode"
)

// TestFromFolders checks that a sender the target would refuse every
// envelope of is refused before anything is sealed, with a clear error.
func TestFromFolders(t *testing.T) {
	dir := t.TempDir()
	nw, err := sim.Testnet(sim.TestnetConfig{Dir: dir, Parties: []string{"BER", "CRI", "ELM"}, Unratified: []string{"ELM"}})
	if err != nil {
		t.Fatal(err)
	}
	// An impostor: BER's id with keys the agreement does not list.
	impostor := filepath.Join(dir, "impostor")
	ks, err := hotline.GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Save(filepath.Join(impostor, server.KeysDir)); err != nil {
		t.Fatal(err)
	}
	// A party the agreement does not know.
	stranger := filepath.Join(dir, "stranger")
	if _, err := server.Init(stranger, "ZED", server.InitOptions{Config: server.Config{Listen: "127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(nw.Dir, p) }
	tests := []struct {
		name           string
		target, sender string
		want           string
	}{
		{"itself", at("CRI"), at("CRI"), "both CRI"},
		{"not ratified", at("CRI"), at("ELM"), "ELM has not ratified agreement version 1"},
		{"not a party", at("CRI"), stranger, "ZED is not a party"},
		{"key not listed", at("CRI"), impostor, "not the one the agreement lists"},
		{"no target", filepath.Join(dir, "nothing"), at("BER"), "target: open"},
		{"no sender", at("CRI"), filepath.Join(dir, "nothing"), "sender's keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bench.FromFolders(tt.target, tt.sender)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}

	c, err := bench.FromFolders(at("CRI"), at("BER"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "CRI" || c.Key.Name() != "BER" || c.URL != nw.Nodes[2].URL || c.TargetKeys == nil || c.TLS != nil {
		t.Errorf("config %+v, want BER to CRI at %s with CRI's keys", c, nw.Nodes[2].URL)
	}
}

// TestFromFoldersRefusesRunningSender (issue 18 finding 10): bench signs
// as the sender outside the sender's node, with sequence numbers of its
// own; against a live channel that would show the recipient a permanent
// gap and fill its inbox. A sender folder whose node is running is refused.
func TestFromFoldersRefusesRunningSender(t *testing.T) {
	nw := testnode.Start(t, testnode.Config{Testnet: sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, Run: []string{"BER", "CRI"}})
	_, err := bench.FromFolders(nw.Folder("CRI"), nw.Folder("BER"))
	if err == nil || !strings.Contains(err.Error(), "is running") {
		t.Fatalf("a running sender: %v, want a refusal saying its node is running", err)
	}
}
