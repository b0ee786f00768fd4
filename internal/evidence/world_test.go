package evidence

import (
	"sort"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/tlog"
)

// world is a hotline network made of parts, with real keys, signatures and
// Merkle trees and a clock each test sets: what bundles are built from in
// this package's tests. The parties are the depositary DEP and ARV, CRI and
// ESK; every party witnesses, two witnesses other than a log's owner make
// the quorum.
type world struct {
	tb    testing.TB
	start time.Time
	agr   *agreement.Agreement
	keys  map[string]*hotline.KeySet
	logs  map[string]*wlog
	// held lists, per party, what its node holds.
	held map[string]*holdings
}

type wlog struct {
	origin  string
	tree    *testonly.Tree
	entries map[entryKey]uint64
	// cps are its checkpoints, smallest first.
	cps []wcp
}

type wcp struct {
	size uint64
	note []byte
}

type holdings struct {
	envelopes []Envelope
	receipts  [][]byte
	relayed   [][]byte
	// own lists the entries of the party's own log, in order.
	own []entryKey
}

// newStoryStart is when every world's agreement is issued.
var newStoryStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

var worldParties = []string{"DEP", "ARV", "CRI", "ESK"}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	w := &world{tb: tb, start: newStoryStart, keys: map[string]*hotline.KeySet{},
		logs: map[string]*wlog{}, held: map[string]*holdings{}}
	sc := agreement.SampleConfig{Time: w.start}
	for i, p := range worldParties {
		ks, err := hotline.GenerateKeySet(p, "")
		if err != nil {
			tb.Fatal(err)
		}
		if err := ks.GenerateNextRoot(); err != nil {
			tb.Fatal(err)
		}
		w.keys[p] = ks
		sp := agreement.SampleParty{Keys: ks, Endpoints: []string{"https://" + p + ".example/"}}
		if i == 0 {
			sc.Depositary = sp
		} else {
			sc.Parties = append(sc.Parties, sp)
		}
		w.logs[p] = &wlog{origin: hotline.DefaultOrigin(p), tree: testonly.New(rfc6962.DefaultHasher), entries: map[entryKey]uint64{}}
		w.held[p] = &holdings{}
	}
	agr, err := agreement.Sample(sc)
	if err != nil {
		tb.Fatal(err)
	}
	w.agr = agr
	return w
}

func (w *world) at(d time.Duration) time.Time { return w.start.Add(d) }

// appendEntry appends an entry to party's log.
func (w *world) appendEntry(party string, dir hotline.Direction, id hotline.ID) {
	l := w.logs[party]
	e := hotline.LeafEntry(l.origin, dir, id)
	l.entries[entryKey{party, dir, id}] = l.tree.Size()
	l.tree.AppendData(e[:])
	w.held[party].own = append(w.held[party].own, entryKey{party, dir, id})
}

// grow appends an entry of another party's business to party's log (as
// its traffic with others would).
func (w *world) grow(party string, id byte) {
	l := w.logs[party]
	e := hotline.LeafEntry(l.origin, hotline.Sent, hotline.ID{id})
	l.tree.AppendData(e[:])
}

// send seals a message from → to at created, logs it in from's log, and
// returns its envelope.
func (w *world) send(from, to, kind string, sev hotline.Severity, created time.Duration, refs ...hotline.ID) *hotline.Envelope {
	w.tb.Helper()
	v := w.agr.Latest()
	in := hotline.Inner{Kind: kind, Severity: sev, Marking: hotline.TLPGreen, Refs: refs}
	if len(refs) > 0 {
		in.Thread = refs[0]
	}
	e, err := hotline.Seal(&hotline.Draft{
		Agreement: v.Hash(), From: from, Created: w.at(created), Inner: in, Body: []byte(`{}`),
		To: []hotline.Addressee{{Party: to, Key: w.keys[to].Encryption.Public(), Seq: 1}},
	}, w.keys[from].Message)
	if err != nil {
		w.tb.Fatal(err)
	}
	w.appendEntry(from, hotline.Sent, e.ID())
	w.held[from].envelopes = append(w.held[from].envelopes, Envelope{Envelope: e.Marshal(), Inner: e.SealedInner()})
	return e
}

// receive has party receive e at t: its log's entry, its receipt, and the
// sender's holding the receipt (logged as received in the sender's log).
func (w *world) receive(e *hotline.Envelope, party string, t time.Duration) []byte {
	w.tb.Helper()
	view, err := e.View(party)
	if err != nil {
		w.tb.Fatal(err)
	}
	m, err := view.Open(party, w.keys[party].Encryption)
	if err != nil {
		w.tb.Fatal(err)
	}
	w.appendEntry(party, hotline.Received, e.ID())
	w.held[party].envelopes = append(w.held[party].envelopes, Envelope{Envelope: view.Marshal(), Inner: m.InnerHeader})
	r := &hotline.Receipt{Message: e.ID(), Party: party, Received: w.at(t), LogOrigin: w.logs[party].origin,
		LogIndex: w.logs[party].entries[entryKey{party, hotline.Received, e.ID()}]}
	note, err := hotline.Sign(r, w.keys[party].Message)
	if err != nil {
		w.tb.Fatal(err)
	}
	w.held[party].receipts = append(w.held[party].receipts, note)
	from := e.Header.From
	w.held[from].receipts = append(w.held[from].receipts, note)
	w.appendEntry(from, hotline.ReceiptReceived, hotline.NoteID(noteText(note)))
	return note
}

// relay has the depositary take e for to at t and its sender hold the
// relay receipt.
func (w *world) relay(e *hotline.Envelope, to string, t time.Duration) {
	w.tb.Helper()
	note, err := hotline.Sign(&hotline.RelayReceipt{Message: e.ID(), From: e.Header.From, To: to, Relay: "DEP", Received: w.at(t)}, w.keys["DEP"].Message)
	if err != nil {
		w.tb.Fatal(err)
	}
	w.held[e.Header.From].relayed = append(w.held[e.Header.From].relayed, note)
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// checkpoint signs a checkpoint of party's log at its current size,
// cosigned by each witness at the time given.
func (w *world) checkpoint(party string, cosigned map[string]time.Duration) {
	w.tb.Helper()
	l := w.logs[party]
	var h [32]byte
	copy(h[:], l.tree.Hash())
	cp := tlog.Checkpoint{Origin: l.origin, Size: l.tree.Size(), Hash: h}
	signers := []note.Signer{w.keys[party].Checkpoint}
	ws := make([]string, 0, len(cosigned))
	for wit := range cosigned {
		ws = append(ws, wit)
	}
	sort.Strings(ws)
	for _, wit := range ws {
		s, err := tlog.NewCosigner(w.keys[wit].Witness.String(), fixedClock(w.at(cosigned[wit])))
		if err != nil {
			w.tb.Fatal(err)
		}
		signers = append(signers, s)
	}
	n, err := note.Sign(&note.Note{Text: string(cp.Text())}, signers...)
	if err != nil {
		w.tb.Fatal(err)
	}
	l.cps = append(l.cps, wcp{size: cp.Size, note: n})
}

// bundle builds, signs and parses exporter's bundle about another party,
// as Export does from a node: everything the exporter holds, every
// checkpoint of its log with the consistency proofs between them, and an
// inclusion proof of each of its entries in the first checkpoint that
// holds it. edit, if not nil, changes the body before it is signed.
func (w *world) bundle(exporter, about string, edit func(*Body)) *Bundle {
	w.tb.Helper()
	h := w.held[exporter]
	l := w.logs[exporter]
	b := &Bundle{Party: exporter, About: about, Exported: w.at(72 * time.Hour)}
	b.Body.Agreement = w.agr.Marshal()
	b.Body.Envelopes = append(b.Body.Envelopes, h.envelopes...)
	b.Body.Receipts = append(b.Body.Receipts, h.receipts...)
	b.Body.RelayReceipts = append(b.Body.RelayReceipts, h.relayed...)
	for i, cp := range l.cps {
		b.Body.Checkpoints = append(b.Body.Checkpoints, cp.note)
		if i > 0 {
			hashes, err := l.tree.ConsistencyProof(l.cps[i-1].size, cp.size)
			if err != nil {
				w.tb.Fatal(err)
			}
			c := &Consistency{Origin: l.origin, Old: l.cps[i-1].size, New: cp.size, Hashes: hashes}
			b.Body.Consistency = append(b.Body.Consistency, c.Marshal())
		}
	}
	for _, k := range h.own {
		idx := l.entries[k]
		for _, cp := range l.cps {
			if cp.size <= idx {
				continue
			}
			hashes, err := l.tree.InclusionProof(idx, cp.size)
			if err != nil {
				w.tb.Fatal(err)
			}
			p := &tlog.Proof{Extra: append([]byte{byte(k.dir)}, k.id[:]...), Index: idx, Hashes: hashes, Checkpoint: cp.note}
			b.Body.Inclusion = append(b.Body.Inclusion, p.Marshal())
			break
		}
	}
	if edit != nil {
		edit(&b.Body)
	}
	return w.sign(b, exporter)
}

// sign signs b with party's message key and parses it back.
func (w *world) sign(b *Bundle, party string) *Bundle {
	w.tb.Helper()
	data, err := b.Marshal(w.keys[party].Message)
	if err != nil {
		w.tb.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		w.tb.Fatal(err)
	}
	return p
}

func (w *world) pin() Pin { return Pin{Genesis: w.agr.Versions()[0].Hash()} }

// all has every witness but the log's owner cosign at t.
func all(owner string, t time.Duration) map[string]time.Duration {
	m := map[string]time.Duration{}
	for _, p := range worldParties {
		if p != owner {
			m[p] = t
		}
	}
	return m
}
