package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

func testEquivocations(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	got, err := s.Equivocations(ctx)
	mustNoErr(t, err, "Equivocations")
	if len(got) != 0 {
		t.Errorf("Equivocations before the first = %v", got)
	}
	e1 := &store.EquivocationRecord{Origin: "par.example/log", Proof: []byte("proof one"), At: base}
	e2 := &store.EquivocationRecord{Origin: "par.example/log", Proof: []byte("proof two"), At: base.Add(-time.Hour)}
	e3 := &store.EquivocationRecord{Origin: "rom.example/log", Proof: []byte("proof three"), At: base.Add(time.Hour)}
	for _, e := range []*store.EquivocationRecord{e1, e2, e3} {
		existed, err := s.AddEquivocation(ctx, e)
		mustNoErr(t, err, "AddEquivocation")
		if existed {
			t.Errorf("AddEquivocation %q reports existed the first time", e.Proof)
		}
	}
	again := *e1
	again.At = base.Add(24 * time.Hour)
	existed, err := s.AddEquivocation(ctx, &again)
	mustNoErr(t, err, "AddEquivocation again")
	if !existed {
		t.Errorf("AddEquivocation again does not report existed")
	}
	other := *e1
	other.Origin = "rom.example/log"
	_, err = s.AddEquivocation(ctx, &other)
	mustErr(t, err, store.ErrConflict, "AddEquivocation of a proof under another origin")

	// Newest first: the reverse of the order recorded, whatever At says.
	got, err = s.Equivocations(ctx)
	mustNoErr(t, err, "Equivocations")
	if diff := cmp.Diff([]store.EquivocationRecord{*e3, *e2, *e1}, got); diff != "" {
		t.Errorf("Equivocations (-want +got):\n%s", diff)
	}
}

// minute returns the time of the i-th probe of testPeerHealth: one a
// minute, from base.
func minute(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }

func testPeerHealth(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	got, err := s.PeerHealth(ctx, "PAR", base)
	mustNoErr(t, err, "PeerHealth")
	if diff := cmp.Diff(store.Health{Peer: "PAR"}, got); diff != "" {
		t.Errorf("PeerHealth of a peer never probed (-want +got):\n%s", diff)
	}
	// PAR: a probe a minute for 30 minutes, down from minute 10 to 14.
	var sumLatency time.Duration
	for i := range 30 {
		p := &store.Probe{Peer: "PAR", At: minute(i), OK: i < 10 || i > 14,
			Latency: time.Duration(10+i) * time.Millisecond, Error: fmt.Sprint("timeout ", i)}
		if p.OK {
			sumLatency += p.Latency
		}
		mustNoErr(t, s.RecordProbe(ctx, p), "RecordProbe")
	}
	mustNoErr(t, s.RecordProbe(ctx, &store.Probe{Peer: "ROM", At: minute(3), Error: "connection refused"}), "RecordProbe ROM")

	start := store.BucketOf(base)
	want := store.Health{Peer: "PAR", Probes: 30, OK: 25, MeanLatency: sumLatency / 25,
		LastOK: minute(29), LastLatency: 39 * time.Millisecond, LastFailure: minute(14), LastError: "timeout 14"}
	check := func(what string, since time.Time, want store.Health) {
		t.Helper()
		got, err := s.PeerHealth(ctx, want.Peer, since)
		mustNoErr(t, err, "PeerHealth")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PeerHealth %s (-want +got):\n%s", what, diff)
		}
	}
	check("since the first probe's bucket", start, want)
	// A window starts on a bucket boundary: minutes 15 to 29.
	recent := want
	recent.Probes, recent.OK, recent.MeanLatency = 15, 15, (25+39)*time.Millisecond/2
	check("since minute 15", start.Add(15*time.Minute), recent)
	check("since minute 17", start.Add(17*time.Minute), recent)
	// The last values do not depend on the window.
	check("since later", minute(60), store.Health{Peer: "PAR", LastOK: want.LastOK,
		LastLatency: want.LastLatency, LastFailure: want.LastFailure, LastError: want.LastError})

	// A retry of the latest probe changes nothing; an older probe is
	// refused and changes nothing either.
	mustNoErr(t, s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: minute(29), OK: true, Latency: time.Millisecond}), "RecordProbe retry")
	mustErr(t, s.RecordProbe(ctx, &store.Probe{Peer: "PAR", At: minute(5), Error: "late"}), store.ErrConflict, "RecordProbe older")
	check("after a retry and an older probe", start, want)

	all, err := s.PeersHealth(ctx, start)
	mustNoErr(t, err, "PeersHealth")
	rom := store.Health{Peer: "ROM", Probes: 1, LastFailure: minute(3), LastError: "connection refused"}
	if diff := cmp.Diff([]store.Health{want, rom}, all); diff != "" {
		t.Errorf("PeersHealth (-want +got):\n%s", diff)
	}

	// Purging forgets whole buckets that ended by the time given.
	n, err := s.PurgeProbes(ctx, start.Add(12*time.Minute))
	mustNoErr(t, err, "PurgeProbes")
	if n != 11 { // PAR's minutes 0 to 9, ROM's minute 3
		t.Errorf("PurgeProbes removed %d probes, want 11", n)
	}
	n, err = s.PurgeProbes(ctx, start.Add(14*time.Minute))
	mustNoErr(t, err, "PurgeProbes again")
	if n != 0 {
		t.Errorf("PurgeProbes again removed %d probes, want 0", n)
	}
	purged := want
	purged.Probes, purged.OK, purged.MeanLatency = 20, 15, recent.MeanLatency
	check("after purging", start, purged)
	check("ROM after purging", start, store.Health{Peer: "ROM", LastFailure: minute(3), LastError: "connection refused"})
}

func testConcurrentProbes(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	// One heartbeat loop per peer, all at once.
	const peers, rounds = 48, 6
	var g errgroup.Group
	for p := range peers {
		g.Go(func() error {
			for i := range rounds {
				err := s.RecordProbe(ctx, &store.Probe{Peer: fmt.Sprintf("P%02d", p), At: minute(i),
					OK: i != p%rounds, Latency: time.Duration(p+1) * time.Millisecond, Error: "down"})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustNoErr(t, g.Wait(), "concurrent probes")
	all, err := s.PeersHealth(ctx, base)
	mustNoErr(t, err, "PeersHealth")
	if len(all) != peers {
		t.Fatalf("PeersHealth = %d peers, want %d", len(all), peers)
	}
	for p, h := range all {
		want := store.Health{Peer: fmt.Sprintf("P%02d", p), Probes: rounds, OK: rounds - 1,
			MeanLatency: time.Duration(p+1) * time.Millisecond, LastOK: minute(rounds - 1),
			LastLatency: time.Duration(p+1) * time.Millisecond, LastFailure: minute(p % rounds), LastError: "down"}
		if p%rounds == rounds-1 {
			want.LastOK = minute(rounds - 2)
		}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("health of P%02d (-want +got):\n%s", p, diff)
		}
	}
}

// refusal returns a signed refusal's row standing in for a real one.
func refusal(dir hotline.Direction, message, peer string, at time.Time) *store.Refusal {
	note := []byte("hotline-refusal/v1\nmessage " + message + "\nparty " + peer + "\n")
	id := hotline.NoteID(note)
	return &store.Refusal{Direction: dir, Message: ID(message), Peer: peer, Code: "invalid_body", At: at,
		Note: note, ID: id, Entry: hotline.LeafEntry(Self, dir, id)}
}

// testRefusals: one refusal per direction, message and peer (the same
// envelope gets the stored one back), at most max per peer and direction,
// each directions' own; the log index recorded once.
func testRefusals(t *testing.T, open Opener) {
	ctx := context.Background()
	s := MustOpen(t, open)
	r1 := refusal(hotline.RefusalIssued, "m1", "PAR", base)
	got, existed, err := s.AddRefusal(ctx, r1, 2)
	mustNoErr(t, err, "AddRefusal")
	if existed || got.ID != r1.ID {
		t.Errorf("AddRefusal the first time: existed %v, id %v", existed, got.ID)
	}
	// The same envelope again, even with another note: the stored one.
	again := refusal(hotline.RefusalIssued, "m1", "PAR", base.Add(time.Hour))
	again.Note = append(again.Note, "time later\n"...)
	again.ID = hotline.NoteID(again.Note)
	got, existed, err = s.AddRefusal(ctx, again, 2)
	mustNoErr(t, err, "AddRefusal again")
	if !existed || got.ID != r1.ID || !bytes.Equal(got.Note, r1.Note) || !got.At.Equal(base) {
		t.Errorf("AddRefusal again: existed %v, got %+v; want the first", existed, got)
	}
	_, _, err = s.AddRefusal(ctx, refusal(hotline.RefusalIssued, "m2", "PAR", base), 2)
	mustNoErr(t, err, "AddRefusal m2")
	_, _, err = s.AddRefusal(ctx, refusal(hotline.RefusalIssued, "m3", "PAR", base), 2)
	mustErr(t, err, store.ErrFull, "AddRefusal over the quota")
	// Another peer, another direction: their own quotas.
	_, _, err = s.AddRefusal(ctx, refusal(hotline.RefusalIssued, "m3", "ROM", base), 2)
	mustNoErr(t, err, "AddRefusal for another peer")
	_, _, err = s.AddRefusal(ctx, refusal(hotline.RefusalReceived, "m3", "PAR", base), 2)
	mustNoErr(t, err, "AddRefusal received")

	mustNoErr(t, s.RefusalSequenced(ctx, hotline.RefusalIssued, r1.ID, 7), "RefusalSequenced")
	mustNoErr(t, s.RefusalSequenced(ctx, hotline.RefusalIssued, r1.ID, 7), "RefusalSequenced again")
	mustErr(t, s.RefusalSequenced(ctx, hotline.RefusalIssued, r1.ID, 8), store.ErrConflict, "RefusalSequenced at another index")
	mustErr(t, s.RefusalSequenced(ctx, hotline.RefusalIssued, ID("nothing"), 9), store.ErrNotFound, "RefusalSequenced of no refusal")

	list, err := s.Refusals(ctx, hotline.RefusalIssued, "PAR")
	mustNoErr(t, err, "Refusals")
	if len(list) != 2 || list[0].ID != r1.ID || !list[0].Sequenced || list[0].Index != 7 || list[1].Sequenced {
		t.Errorf("Refusals PAR: %+v", list)
	}
	_, _, err = s.AddRefusal(ctx, &store.Refusal{Direction: hotline.Sent, Peer: "PAR"}, 2)
	mustErr(t, err, store.ErrInvalid, "AddRefusal of another direction")
}
