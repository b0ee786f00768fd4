package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/hotline-net/hotline/internal/store"
)

// testRaiseSequence: a counter learnt from a peer after a restore is
// raised, never lowered, and the next envelope continues from it.
func testRaiseSequence(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	next := func(party string) store.PairSeq {
		t.Helper()
		q, err := s.NextSequences(ctx, []string{party})
		mustNoErr(t, err, "NextSequences")
		return q[0]
	}

	// A peer never sent to.
	raised, err := s.RaiseSequence(ctx, "PAR", 41, ID("forty-one"))
	mustNoErr(t, err, "RaiseSequence")
	if q := next("PAR"); !raised || q.Seq != 42 || q.Prev != ID("forty-one") {
		t.Fatalf("after raising to 41: raised %v, next %d after %v; want true, 42 after forty-one", raised, q.Seq, q.Prev)
	}
	// Never lower, nor the same again.
	for _, seq := range []uint64{41, 7} {
		raised, err := s.RaiseSequence(ctx, "PAR", seq, ID("other"))
		mustNoErr(t, err, "RaiseSequence")
		if q := next("PAR"); raised || q.Seq != 42 || q.Prev != ID("forty-one") {
			t.Errorf("raising to %d: raised %v, next %d after %v; want false, 42 after forty-one", seq, raised, q.Seq, q.Prev)
		}
	}
	// The next envelope takes 42 and chains to forty-one.
	sent := SentEnvelope("after the restore", "PAR")
	sent.Seqs = []store.PairSeq{next("PAR")}
	_, err = s.InsertSent(ctx, sent)
	mustNoErr(t, err, "InsertSent")
	if q := next("PAR"); q.Seq != 43 || q.Prev != sent.Envelope.ID {
		t.Errorf("after sending: next %d after %v, want 43 after the envelope", q.Seq, q.Prev)
	}
	// A peer already sent to, raised.
	raised, err = s.RaiseSequence(ctx, "PAR", 100, ID("hundred"))
	mustNoErr(t, err, "RaiseSequence")
	if q := next("PAR"); !raised || q.Seq != 101 || q.Prev != ID("hundred") {
		t.Errorf("after raising to 100: raised %v, next %d after %v", raised, q.Seq, q.Prev)
	}
	// Another peer is untouched.
	if q := next("ROM"); q.Seq != 1 {
		t.Errorf("ROM: next %d, want 1", q.Seq)
	}
	// Bad input.
	for _, tc := range []struct {
		party string
		seq   uint64
	}{{"PAR", 0}, {"", 5}, {"PAR", 1 << 63}} {
		if _, err := s.RaiseSequence(ctx, tc.party, tc.seq, ID("x")); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RaiseSequence(%q, %d): %v, want ErrInvalid", tc.party, tc.seq, err)
		}
	}
}
