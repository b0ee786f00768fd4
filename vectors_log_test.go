package hotline

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline/internal/tlog"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// fixedClock is the witnesses' clock in the test vectors.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// logVectors adds the vectors of one party's log (PROTOCOL.md §10): BER's
// log holding four entries — envelope-1 sent, CRI's receipt of it
// received, envelope-3 and group-v2 sent — as a checkpoint signed by
// BER's checkpoint key and cosigned (cosignature/v1, at testTime) by CRI's
// and DOR's witness keys; the log's tiles (one partial hash tile of
// level 0 and its entry bundle); and a tlog-proof of the receipt's entry
// (index 1) under that checkpoint.
func logVectors(t *testing.T, keys map[string]*KeySet, out map[string][]byte, e1, receipt, e3, ev2 ID) {
	origin := keys["BER"].Origin()
	entries := [][EntrySize]byte{
		LeafEntry(origin, Sent, e1),
		LeafEntry(origin, ReceiptReceived, receipt),
		LeafEntry(origin, Sent, e3),
		LeafEntry(origin, Sent, ev2),
	}
	h := rfc6962.DefaultHasher
	var leaves [][]byte
	var hashTile, bundle []byte
	for _, e := range entries {
		l := h.HashLeaf(e[:])
		leaves = append(leaves, l)
		hashTile = append(hashTile, l...)
		bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(e)))
		bundle = append(bundle, e[:]...)
	}
	left, right := h.HashChildren(leaves[0], leaves[1]), h.HashChildren(leaves[2], leaves[3])
	root := h.HashChildren(left, right)

	cp := tlog.Checkpoint{Origin: origin, Size: uint64(len(entries)), Hash: [32]byte(root)}
	signers := []note.Signer{keys["BER"].Checkpoint}
	for _, w := range []string{"CRI", "DOR"} {
		s, err := tlog.NewCosigner(keys[w].Witness.String(), fixedClock{testTime})
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	signed, err := note.Sign(&note.Note{Text: string(cp.Text())}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	out["checkpoint.note"] = signed
	out["tile-0-000.p-4"] = hashTile
	out["tile-entries-000.p-4"] = bundle
	p := &tlog.Proof{Index: 1, Hashes: [][]byte{leaves[0], right}, Checkpoint: signed}
	out["inclusion.tlog-proof"] = p.Marshal()
}

// checkLogVectors checks the log vectors from the files alone: the
// checkpoint's three signatures, the tiles against the checkpoint's root,
// and the inclusion proof of the receipt's entry.
func checkLogVectors(t *testing.T, pub map[string]string) {
	v := func(key string, f func(string) (note.Verifier, error)) note.Verifier {
		vv, err := f(pub[key])
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return vv
	}
	logKey := v("BER checkpoint", tlog.NewLogVerifier)
	cri := v("CRI witness", tlog.NewCosignatureVerifier)
	dor := v("DOR witness", tlog.NewCosignatureVerifier)
	signed := readVector(t, "checkpoint.note")
	cp, n, err := tlog.OpenCheckpoint(signed, logKey, cri, dor)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sigs) != 3 || cp.Size != 4 {
		t.Fatalf("checkpoint: %d signatures verified, size %d; want 3 and 4", len(n.Sigs), cp.Size)
	}
	for _, s := range n.Sigs[1:] {
		sig, _ := base64.StdEncoding.DecodeString(s.Base64)
		if ts := binary.BigEndian.Uint64(sig[4:12]); ts != uint64(testTime.Unix()) {
			t.Errorf("cosignature by %s at %d, want %d", s.Name, ts, testTime.Unix())
		}
	}

	// The tiles: the entry bundle's entries hash to the hash tile, whose
	// four leaf hashes give the checkpoint's root.
	bundle, tile := readVector(t, "tile-entries-000.p-4"), readVector(t, "tile-0-000.p-4")
	h := rfc6962.DefaultHasher
	var entries, leaves [][]byte
	for b := bundle; len(b) > 0; {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			t.Fatal("entry bundle: truncated")
		}
		l := int(binary.BigEndian.Uint16(b))
		entries, b = append(entries, b[2:2+l]), b[2+l:]
	}
	if len(entries) != 4 || len(tile) != 4*32 {
		t.Fatalf("tiles: %d entries, hash tile of %d bytes; want 4 and 128", len(entries), len(tile))
	}
	for i, e := range entries {
		leaves = append(leaves, tile[32*i:32*(i+1)])
		if !bytes.Equal(h.HashLeaf(e), leaves[i]) {
			t.Errorf("entry %d does not hash to the hash tile's leaf %d", i, i)
		}
	}
	root := h.HashChildren(h.HashChildren(leaves[0], leaves[1]), h.HashChildren(leaves[2], leaves[3]))
	if !bytes.Equal(root, cp.Hash[:]) {
		t.Error("the tiles do not give the checkpoint's root hash")
	}

	// The proof: index 1 is the entry of CRI's receipt, as leaves.txt
	// computes it.
	p, err := tlog.ParseProof(readVector(t, "inclusion.tlog-proof"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(entries[p.Index], logKey, cri, dor); err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, line := range strings.Split(string(readVector(t, "leaves.txt")), "\n") {
		if strings.HasPrefix(line, cp.Origin+" 03 ") {
			want = line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	if got := fmt.Sprintf("%x", entries[p.Index]); p.Index != 1 || got != want {
		t.Errorf("the proof is of entry %d (%s), want 1, the receipt's (%s)", p.Index, got, want)
	}
}
