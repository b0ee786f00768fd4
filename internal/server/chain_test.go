package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/testnode"
)

// ownNode is one node of a testnet that a test starts and stops itself.
type ownNode struct {
	s    *server.Server
	stop func()
}

// openNode opens the node folder dir and serves it until stop; it returns
// Open's error instead when the node refuses to start.
func openNode(tb testing.TB, dir string) (*ownNode, error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Open(ctx, dir, server.Options{Bodies: testnode.Templates(tb)})
	if err != nil {
		cancel()
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Serve(ctx); err != nil {
			tb.Errorf("%s: %v", dir, err)
		}
	})
	n := &ownNode{s: s}
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	tb.Cleanup(n.stop)
	return n, nil
}

// rootKey reads party's root key, which a testnet keeps outside the node
// folder.
func rootKey(tb testing.TB, nw *sim.Network, party string) *hotline.SigningKey {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(nw.Dir, "root-keys", party, "root.key"))
	if err != nil {
		tb.Fatal(err)
	}
	k, err := hotline.ParseSigningKey(strings.TrimSpace(string(b)))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// editFile rewrites the agreement file's JSON members with f, bypassing
// every check this package makes: what an attacker hands a node.
func editFile(tb testing.TB, raw []byte, f func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	f(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func asJSON(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestAgreementAttacksRefusedAtStart is issue 14's findings 1 and 2 against
// real nodes: CRI, offered a file in which BER's root key was replaced by
// an attacker's — through the unsigned draft, or by a version the
// depositary alone signed — refuses to start, naming BER; and the
// attacker's envelope "from BER" is refused over HTTP by the CRI that runs
// on the true file.
func TestAgreementAttacksRefusedAtStart(t *testing.T) {
	// The agreement was made an hour ago; the attacks come later.
	start := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}, Time: start}, []string{"DEP", "BER"}, nil)
	nw := tn.Network
	criDir := filepath.Join(nw.Dir, "CRI")
	genuine, err := os.ReadFile(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	agr, err := agreement.Load(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := hotline.GenerateKeySet("BER", "")
	if err != nil {
		t.Fatal(err)
	}
	criKeys, err := hotline.LoadKeySet(filepath.Join(criDir, server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)

	// Finding 1: a draft giving BER the attacker's root, and entry BER/2
	// signed by it, revoking BER's keys back to their start.
	d, err := agr.NextDraft()
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.Parties {
		if d.Parties[i].ID == "BER" {
			d.Parties[i].Root, d.Parties[i].NextRoot = attacker.Root.VerifierKey(), hotline.ID{}
		}
	}
	prev, err := agr.Entry("BER")
	if err != nil {
		t.Fatal(err)
	}
	e, err := agreement.NextEntry(prev, agreement.EntryUpdate{
		Keys: attacker.Public(), Issued: now,
		Revoke:    []hotline.KeyRole{hotline.RoleMessage, hotline.RoleEncryption, hotline.RoleCheckpoint, hotline.RoleWitness},
		RevokedAt: prev.Issued,
	})
	if err != nil {
		t.Fatal(err)
	}
	forgedEntry, err := agreement.SignEntry(e, attacker.Root)
	if err != nil {
		t.Fatal(err)
	}
	forgedDraft := editFile(t, genuine, func(m map[string]any) {
		m["draft"] = asJSON(t, d)
		m["entries"] = append(m["entries"].([]any), string(forgedEntry))
	})

	// Finding 2: version 2, signed by the depositary alone, replacing
	// BER's root; nobody ratified it.
	d2, err := agr.NextDraft()
	if err != nil {
		t.Fatal(err)
	}
	d2.Issued, d2.Effective = start.Add(time.Minute), start.Add(time.Minute)
	for i := range d2.Parties {
		if d2.Parties[i].ID == "BER" {
			d2.Parties[i].Root, d2.Parties[i].NextRoot = attacker.Root.VerifierKey(), hotline.ID{}
		}
	}
	v2, err := agreement.SignTerms(d2, rootKey(t, nw, "DEP"))
	if err != nil {
		t.Fatal(err)
	}
	// With it, the attacker's own entry BER/2.
	e2, err := agreement.NextEntry(prev, agreement.EntryUpdate{Keys: attacker.Public(), Issued: start.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	entry2, err := agreement.SignEntry(e2, attacker.Root)
	if err != nil {
		t.Fatal(err)
	}
	depositaryOnly := editFile(t, genuine, func(m map[string]any) {
		m["terms"] = append(m["terms"].([]any), string(v2))
		m["entries"] = append(m["entries"].([]any), string(entry2))
	})

	// The attacker's envelope "from BER" to CRI, under version 1.
	forged, err := hotline.Seal(&hotline.Draft{
		Agreement: agr.Latest().Hash(), From: "BER", Created: now,
		To:    []hotline.Addressee{{Party: "CRI", Key: criKeys.Encryption.Public(), Seq: 1}},
		Inner: hotline.Inner{Kind: "notification", Severity: hotline.SeverityCritical, Marking: hotline.TLPRed},
		Body:  []byte(validNotice),
	}, attacker.Message)
	if err != nil {
		t.Fatal(err)
	}
	view, err := forged.View("CRI")
	if err != nil {
		t.Fatal(err)
	}
	postForged := func(t *testing.T, url string) int {
		t.Helper()
		body := view.Marshal()
		req, err := http.NewRequest(http.MethodPost, url+"/v1/envelopes", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := fedapi.SignRequest(req, body, "CRI", attacker.Message, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// CRI runs on the genuine file first, so that it holds the chain.
	cri, err := openNode(t, criDir)
	if err != nil {
		t.Fatal(err)
	}
	if code := postForged(t, cri.s.URL()); code == http.StatusOK {
		t.Fatal("CRI on the genuine agreement accepted the attacker's envelope")
	}
	cri.stop()

	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"forged draft", forgedDraft},
		{"depositary-only root change", depositaryOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(nw.Agreement, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(nw.Agreement, genuine, 0o644)
			n, err := openNode(t, criDir)
			if err == nil {
				code := postForged(t, n.s.URL())
				n.stop()
				t.Fatalf("CRI started on the %s; the attacker's RED envelope from \"BER\" got HTTP %d", tc.name, code)
			}
			t.Logf("CRI refused to start: %v", err)
			if !strings.Contains(err.Error(), "root_changed") || !strings.Contains(err.Error(), "root key of BER") {
				t.Errorf("refused with %v; want the root change of BER named", err)
			}
			if !strings.Contains(err.Error(), "BER") {
				t.Errorf("the refusal does not name BER: %v", err)
			}
		})
	}

	// Back on the genuine file, CRI starts.
	if cri, err = openNode(t, criDir); err != nil {
		t.Fatal(err)
	}
	cri.stop()
}

// TestRollbackHasNoEffectAtStart is finding 3: CRI, restarted on an
// agreement file older than the chain it holds (here without BER's
// rotation of its message key), keeps the chain it holds — the file cannot
// take BER's entry 2 away (a node that took documents in at runtime starts
// on a file that lacks them) — and refuses a file that contradicts it.
func TestRollbackHasNoEffectAtStart(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, []string{"DEP"}, nil)
	nw := tn.Network
	criDir := filepath.Join(nw.Dir, "CRI")
	old, err := os.ReadFile(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	cri, err := openNode(t, criDir)
	if err != nil {
		t.Fatal(err)
	}
	cri.stop()

	// BER rotates its message key with an entry it signs.
	agr, err := agreement.Load(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	berKeys, err := hotline.LoadKeySet(filepath.Join(nw.Dir, "BER", server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	pub := berKeys.Public()
	k, _ := hotline.GenerateSigningKey("BER", false)
	pub.Message = k.VerifierKey()
	now := time.Now().UTC().Truncate(time.Second)
	addEntry(t, nw, agr, "BER", agreement.EntryUpdate{Keys: pub, Issued: now, At: now.Add(time.Hour)})
	if cri, err = openNode(t, criDir); err != nil {
		t.Fatal(err)
	}
	cri.stop()

	// The old file again.
	if err := os.WriteFile(nw.Agreement, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if cri, err = openNode(t, criDir); err != nil {
		t.Fatal(err)
	}
	if e, err := cri.s.Node().Agreement().Entry("BER"); err != nil || e.Sequence != 2 {
		t.Fatalf("CRI on the old file holds BER's entry %v (%v); want 2, which it held", e, err)
	}
	cri.stop()

	// A file with another entry 2 of BER contradicts the chain: refused.
	k3, _ := hotline.GenerateSigningKey("BER", false)
	pub.Message = k3.VerifierKey()
	agr, err = agreement.Parse(old)
	if err != nil {
		t.Fatal(err)
	}
	addEntry(t, nw, agr, "BER", agreement.EntryUpdate{Keys: pub, Issued: now, At: now.Add(time.Hour)})
	cri, err = openNode(t, criDir)
	if err == nil {
		cri.stop()
		t.Fatal("CRI started on an agreement file with another entry 2 of BER than the one it held")
	}
	t.Logf("CRI refused to start: %v", err)
	if !strings.Contains(err.Error(), "fork") || !strings.Contains(err.Error(), "BER") {
		t.Errorf("refused with %v; want a fork of BER's entries named", err)
	}
}

// TestDepositaryLogsDocuments: the depositary's node logs a 0x04 entry for
// every document of its agreement, once, and the documents a later file
// adds when it starts on it.
func TestDepositaryLogsDocuments(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, []string{}, nil)
	nw := tn.Network
	depDir := filepath.Join(nw.Dir, "DEP")
	ctx := context.Background()
	check := func(agr *agreement.Agreement) map[hotline.ID]uint64 {
		t.Helper()
		dep, err := openNode(t, depDir)
		if err != nil {
			t.Fatal(err)
		}
		defer dep.stop()
		logged, err := server.LoggedDocuments(ctx, dep.s.Node().Store())
		if err != nil {
			t.Fatal(err)
		}
		docs := agr.DocumentHashes()
		if len(logged) != len(docs) {
			t.Errorf("%d documents logged, the agreement has %d", len(logged), len(docs))
		}
		entries := map[uint64][32]byte{}
		count := 0
		want := map[[32]byte]bool{}
		for _, h := range docs {
			want[hotline.LeafEntry(dep.s.Log().Origin(), hotline.AgreementDocument, h)] = true
		}
		for e, err := range dep.s.Log().EntriesFrom(ctx, 0) {
			if err != nil {
				t.Fatal(err)
			}
			entries[e.Index] = e.Data
			if want[e.Data] {
				count++
			}
		}
		if count != len(docs) {
			t.Errorf("the log holds %d document entries, want %d (each once)", count, len(docs))
		}
		for _, h := range docs {
			i, ok := logged[h]
			if !ok {
				t.Errorf("document %s not logged", h)
				continue
			}
			if entries[i] != hotline.LeafEntry(dep.s.Log().Origin(), hotline.AgreementDocument, h) {
				t.Errorf("document %s: the entry at index %d is not its", h, i)
			}
		}
		return logged
	}
	agr, err := agreement.Load(nw.Agreement)
	if err != nil {
		t.Fatal(err)
	}
	first := check(agr)

	// BER signs a new entry; the depositary's node logs it at its next start.
	keys, err := hotline.LoadKeySet(filepath.Join(nw.Dir, "BER", server.KeysDir))
	if err != nil {
		t.Fatal(err)
	}
	agr = addEntry(t, nw, agr, "BER", agreement.EntryUpdate{Keys: keys.Public(), Issued: time.Now().UTC().Truncate(time.Second), Reconfirm: true})
	second := check(agr)
	for h, i := range first {
		if second[h] != i {
			t.Errorf("document %s moved from index %d to %d", h, i, second[h])
		}
	}
}
