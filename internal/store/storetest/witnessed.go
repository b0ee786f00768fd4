package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hotline-net/hotline/internal/store"
)

// witnessedCP returns a witnessed checkpoint of origin at size with root
// byte root, cosigned by the witnesses at the times given (seconds after
// base), received at base plus size minutes.
func witnessedCP(origin string, size uint64, root byte, cosigs map[string]int) *store.WitnessedCheckpoint {
	at := base.Add(time.Duration(size) * time.Minute)
	c := &store.WitnessedCheckpoint{Origin: origin, Size: size, Note: fmt.Appendf(nil, "%s\n%d\nroot %d\n\n— sig", origin, size, root), At: at}
	c.Hash[0] = root
	for w, sec := range cosigs {
		c.Cosignatures = append(c.Cosignatures, store.CosignatureRecord{
			Origin: origin, Size: size, Witness: w, Time: base.Add(time.Duration(sec) * time.Second).Truncate(time.Second),
			Signature: fmt.Sprintf("— %s/witness %d-%d", w, size, sec), At: at,
		})
	}
	return c
}

func testWitnessed(t *testing.T, open Opener) {
	ctx := context.Background()
	s, err := open(ctx)
	mustNoErr(t, err, "open")
	const par = "par.example/log"
	add := func(c *store.WitnessedCheckpoint) int {
		t.Helper()
		n, err := s.AddWitnessed(ctx, c)
		mustNoErr(t, err, "AddWitnessed")
		return n
	}
	if n := add(witnessedCP(par, 10, 1, map[string]int{"ROM": 100, "DEP": 101})); n != 2 {
		t.Errorf("AddWitnessed: %d new cosignatures, want 2", n)
	}
	// The same checkpoint again, with a later cosignature by a witness it
	// has and a new one: only the new witness's is added, the first kept.
	if n := add(witnessedCP(par, 10, 1, map[string]int{"ROM": 500, "OSL": 102})); n != 1 {
		t.Errorf("AddWitnessed again: %d new cosignatures, want 1", n)
	}
	_, err = s.AddWitnessed(ctx, witnessedCP(par, 10, 2, map[string]int{"OSL": 103}))
	mustErr(t, err, store.ErrConflict, "AddWitnessed of another root at a recorded size")
	add(witnessedCP(par, 20, 3, map[string]int{"ROM": 200, "DEP": 90}))
	add(witnessedCP(par, 30, 4, map[string]int{"ROM": 300, "DEP": 300}))
	add(witnessedCP("rom.example/log", 15, 5, map[string]int{"PAR": 1, "DEP": 1}))

	got, err := s.Witnessed(ctx, par, 0)
	mustNoErr(t, err, "Witnessed")
	var sizes []uint64
	for _, c := range got {
		sizes = append(sizes, c.Size)
	}
	if diff := cmp.Diff([]uint64{30, 20, 10}, sizes); diff != "" {
		t.Errorf("Witnessed sizes (-want +got):\n%s", diff)
	}
	want10 := witnessedCP(par, 10, 1, map[string]int{"DEP": 101, "OSL": 102, "ROM": 100})
	slices.SortFunc(want10.Cosignatures, func(a, b store.CosignatureRecord) int { return strings.Compare(a.Witness, b.Witness) })
	if diff := cmp.Diff(*want10, got[2], cmpOpts...); diff != "" {
		t.Errorf("checkpoint 10 as recorded (-want +got):\n%s", diff)
	}
	if top, err := s.Witnessed(ctx, par, 1); err != nil || len(top) != 1 || top[0].Size != 30 {
		t.Errorf("Witnessed limit 1: %v, %v", top, err)
	}

	below, above, err := s.WitnessedAround(ctx, par, 20)
	mustNoErr(t, err, "WitnessedAround")
	if below == nil || below.Size != 10 || above == nil || above.Size != 30 || len(above.Cosignatures) != 2 {
		t.Errorf("WitnessedAround 20: %+v, %+v", below, above)
	}
	below, above, err = s.WitnessedAround(ctx, par, 5)
	mustNoErr(t, err, "WitnessedAround")
	if below != nil || above == nil || above.Size != 10 {
		t.Errorf("WitnessedAround 5: %+v, %+v", below, above)
	}

	// Index 15 is in checkpoints 20 and 30. DEP cosigned 20 at 90 s;
	// ROM 20 at 200 s (before 30 at 300 s). Index 9 is in all three:
	// DEP's earliest is 90 s on 20, ROM's 100 s on 10, OSL's 102 s.
	first := func(index uint64) []string {
		t.Helper()
		cs, err := s.FirstCosignatures(ctx, par, index)
		mustNoErr(t, err, "FirstCosignatures")
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s %d %v", c.Witness, c.Size, c.Time.Sub(base.Truncate(time.Second))))
		}
		return out
	}
	if diff := cmp.Diff([]string{"DEP 20 1m30s", "ROM 20 3m20s"}, first(15)); diff != "" {
		t.Errorf("FirstCosignatures 15 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"DEP 20 1m30s", "ROM 10 1m40s", "OSL 10 1m42s"}, first(9)); diff != "" {
		t.Errorf("FirstCosignatures 9 (-want +got):\n%s", diff)
	}
	if got := first(30); len(got) != 0 {
		t.Errorf("FirstCosignatures past the largest: %v", got)
	}

	bad := witnessedCP(par, 40, 6, map[string]int{"ROM": 1})
	bad.Cosignatures[0].Size = 41
	_, err = s.AddWitnessed(ctx, bad)
	mustErr(t, err, store.ErrInvalid, "AddWitnessed with a cosignature of another checkpoint")
	if b, a, err := s.WitnessedAround(ctx, par, 35); err != nil || a != nil || b == nil || b.Size != 30 {
		t.Errorf("the invalid checkpoint was written: %+v, %+v, %v", b, a, err)
	}

	// Everything survives a restart.
	mustNoErr(t, s.Close(), "Close")
	s2 := MustOpen(t, open)
	got2, err := s2.Witnessed(ctx, par, 0)
	mustNoErr(t, err, "Witnessed after reopening")
	if diff := cmp.Diff(got, got2, cmpOpts...); diff != "" {
		t.Errorf("after reopening (-before +after):\n%s", diff)
	}
}
