package server_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline/internal/poll"
	"github.com/hotline-net/hotline/internal/sim"
	"github.com/hotline-net/hotline/internal/store"
)

// TestCosignaturesSurviveRestart: BER keeps its own log's quorum
// checkpoints with every cosignature and its timestamp in its store, and
// finds them all again after a restart.
func TestCosignaturesSurviveRestart(t *testing.T) {
	tn := newTestNetWith(t, sim.TestnetConfig{Parties: []string{"BER", "CRI"}}, []string{"DEP", "CRI"}, nil)
	ctx := context.Background()
	ber, err := openNode(t, tn.Folder("BER"))
	if err != nil {
		t.Fatal(err)
	}
	origin := ber.s.Log().Origin()
	var before []store.WitnessedCheckpoint
	poll.Must(t, "BER's own quorum checkpoint in its history", func() (bool, error) {
		var err error
		before, err = ber.s.Node().Store().Witnessed(ctx, origin, 0)
		return len(before) > 0 && len(before[0].Cosignatures) >= 2, err
	})
	for _, c := range before[0].Cosignatures {
		if c.Witness == "BER" || c.Time.IsZero() || c.Signature == "" {
			t.Errorf("cosignature %+v", c)
		}
	}
	ber.stop()

	ber, err = openNode(t, tn.Folder("BER"))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ber.s.Node().Store().Witnessed(ctx, origin, 0)
	if err != nil {
		t.Fatal(err)
	}
	bySize := map[uint64]store.WitnessedCheckpoint{}
	for _, c := range after {
		bySize[c.Size] = c
	}
	for _, b := range before {
		a, ok := bySize[b.Size]
		if !ok {
			t.Errorf("checkpoint %d is gone after the restart", b.Size)
			continue
		}
		// Cosignatures may have been added since; none is lost or changed.
		got := map[string]store.CosignatureRecord{}
		for _, c := range a.Cosignatures {
			got[c.Witness] = c
		}
		for _, c := range b.Cosignatures {
			if diff := cmp.Diff(c, got[c.Witness]); diff != "" {
				t.Errorf("checkpoint %d, %s's cosignature after the restart (-before +after):\n%s", b.Size, c.Witness, diff)
			}
		}
	}
}
