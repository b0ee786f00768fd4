package tlog

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

func TestFormatsRoundTrip(t *testing.T) {
	for name, b := range readTestdata(t, "tlog-proof") {
		p, err := ParseProof(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Errorf("%s: Marshal does not give the file back", name)
		}
	}
	for name, b := range readTestdata(t, "equivocation") {
		e, err := ParseEquivocation(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(e.Marshal(), b) {
			t.Errorf("%s: Marshal does not give the file back", name)
		}
	}
	for name, b := range readTestdata(t, "add-checkpoint") {
		old, p, cp, err := ParseAddCheckpoint(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(FormatAddCheckpoint(old, p, cp), b) {
			t.Errorf("%s: FormatAddCheckpoint does not give the file back", name)
		}
	}
}

func TestParseProofErrors(t *testing.T) {
	good := string(readTestdata(t, "tlog-proof")["index17.tlog-proof"])
	for name, bad := range map[string]string{
		"no tag":         good[len(ProofTag)+1:],
		"leading zero":   replaceOnce(good, "index 17", "index 017"),
		"no index":       replaceOnce(good, "index 17\n", ""),
		"bad hash":       replaceOnce(good, "W/kq", "W/k"),
		"bad extra":      replaceOnce(good, "index 17", "extra !!\nindex 17"),
		"no checkpoint":  good[:bytes.Index([]byte(good), []byte("\n\n"))+2],
		"extension line": replaceOnce(good, "\n300\n", "\n300\nx\ny\n"),
	} {
		if p, err := ParseProof([]byte(bad)); err == nil {
			t.Errorf("%s: parsed %+v", name, p)
		}
	}
}

func replaceOnce(s, old, new string) string {
	i := bytes.Index([]byte(s), []byte(old))
	if i < 0 {
		return s + "\x00"
	}
	return s[:i] + new + s[i+len(old):]
}

func FuzzParseProof(f *testing.F) {
	for _, b := range readTestdata(f, "tlog-proof") {
		f.Add(b)
	}
	key := newTestKey(f, "example.net/hotline/ber")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("ParseProof accepted a non-canonical proof:\n%q\nwritten back as\n%q", b, p.Marshal())
		}
		p.Verify([]byte("entry"), key.verifier)
	})
}

func FuzzParseEquivocation(f *testing.F) {
	for _, b := range readTestdata(f, "equivocation") {
		f.Add(b)
	}
	key := newTestKey(f, "example.net/hotline/ber")
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEquivocation(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Marshal(), b) {
			t.Fatalf("ParseEquivocation accepted a non-canonical proof:\n%q\nwritten back as\n%q", b, e.Marshal())
		}
		back, err := ParseEquivocation(e.Marshal())
		if err != nil || !cmp.Equal(e, back) {
			t.Fatalf("round trip: %v", err)
		}
		e.Verify(key.verifier)
	})
}

func FuzzParseAddCheckpoint(f *testing.F) {
	for _, b := range readTestdata(f, "add-checkpoint") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		old, p, cp, err := ParseAddCheckpoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(FormatAddCheckpoint(old, p, cp), b) {
			t.Fatalf("ParseAddCheckpoint accepted a non-canonical body %q", b)
		}
	})
}

// memWitnessStore is an in-memory WitnessStore for fuzzing.
type memWitnessStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memWitnessStore) Latest(_ context.Context, origin string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[origin], nil
}

func (s *memWitnessStore) Swap(_ context.Context, origin string, prev, next []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !bytes.Equal(s.m[origin], prev) {
		return ErrStale
	}
	s.m[origin] = next
	return nil
}

// FuzzWitness feeds arbitrary bodies to a witness that has cosigned size 4
// of a known log: nothing but a valid, consistent, signed checkpoint may
// change what it stores.
func FuzzWitness(f *testing.F) {
	for _, b := range readTestdata(f, "add-checkpoint") {
		f.Add(b)
	}
	key := newTestKey(f, "example.com/behind-the-sofa")
	tree := newMemTree(key).grow("f", 10)
	p, _ := tree.ConsistencyProof(4, 10)
	f.Add(FormatAddCheckpoint(4, p, tree.checkpoint(f, 10)))
	f.Add(FormatAddCheckpoint(0, nil, tree.checkpoint(f, 10)))
	skey, _ := newTestCosignerKey(f, "example.net/witness")
	signer, err := NewCosigner(skey, newFakeClock())
	if err != nil {
		f.Fatal(err)
	}
	start := tree.checkpoint(f, 4)
	f.Fuzz(func(t *testing.T, body []byte) {
		store := &memWitnessStore{m: map[string][]byte{}}
		w, err := NewWitness(WitnessConfig{Signer: signer, Store: store,
			Logs: []WitnessedLog{{Origin: key.signer.Name(), Verifiers: []note.Verifier{key.verifier}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.AddCheckpoint(context.Background(), FormatAddCheckpoint(0, nil, start)); err != nil {
			t.Fatal(err)
		}
		before, _ := store.Latest(context.Background(), key.signer.Name())
		_, err = w.AddCheckpoint(context.Background(), body)
		after, _ := store.Latest(context.Background(), key.signer.Name())
		var we *WitnessError
		if err != nil && !errors.As(err, &we) {
			t.Fatalf("AddCheckpoint: %v is not a WitnessError", err)
		}
		if err != nil && !bytes.Equal(before, after) {
			t.Fatal("a refused request changed the stored checkpoint")
		}
		if err == nil {
			cp, _, err := OpenCheckpoint(after, key.verifier)
			if err != nil {
				t.Fatalf("stored checkpoint does not open: %v", err)
			}
			if cp.Size > tree.Size() || [HashSize]byte(tree.HashAt(cp.Size)) != cp.Hash {
				t.Fatalf("cosigned a checkpoint of size %d not in the tree", cp.Size)
			}
		}
	})
}
