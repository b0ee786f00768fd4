package evidence

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/obligations"
)

// Tally counts one obliged party's verdicts.
type Tally struct {
	Party                          string
	Met, Late, Missed, Disputed    int
	Refused, Unprovable, Open, All int
}

// Tallies returns the verdicts per obliged party, by party id.
func (r *Report) Tallies() []Tally {
	m := map[string]*Tally{}
	for _, o := range r.Obligations {
		t := m[o.To]
		if t == nil {
			t = &Tally{Party: o.To}
			m[o.To] = t
		}
		t.All++
		switch o.State {
		case obligations.MetOnTime:
			t.Met++
		case obligations.MetLate:
			t.Late++
		case obligations.Missed:
			t.Missed++
		case obligations.Disputed:
			t.Disputed++
		case obligations.Refused:
			t.Refused++
		case obligations.Unprovable:
			t.Unprovable++
		default:
			t.Open++
		}
	}
	var out []Tally
	for _, t := range m {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Tally) int {
		if a.Party < b.Party {
			return -1
		}
		if a.Party > b.Party {
			return 1
		}
		return 0
	})
	return out
}

// WriteText writes what was verified, the verdict table per obliged party
// and every obligation with its reason.
func (r *Report) WriteText(w io.Writer, pin Pin) error {
	for i, b := range r.Bundles {
		fmt.Fprintf(w, "bundle %d: %s about %s, exported %s: %d envelopes, %d receipts, %d relay receipts, %d checkpoints, %d inclusion proofs, %d consistency proofs: verified\n",
			i+1, b.Party, b.About, hotline.FormatTime(b.Exported), b.Envelopes, b.Receipts, b.Relayed, b.Checkpoints, b.Inclusion, b.Consistency)
	}
	v1 := r.Agreement.Versions()[0]
	root := "the pinned genesis " + v1.Hash().String()[:16]
	if pin.Genesis.IsZero() {
		root = "version 1, issued under the pinned depositary key"
	}
	fmt.Fprintf(w, "agreement: %d versions, rooted at %s\n", len(r.Agreement.Versions()), root)
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range r.Equivocations {
			if !yield(p) {
				return
			}
		}
	}) {
		fmt.Fprintf(w, "equivocation: %s's log: %s\n", p, r.Equivocations[p])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OWED BY\tMET\tLATE\tMISSED\tDISPUTED\tOTHER")
	for _, t := range r.Tallies() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", t.Party, t.Met, t.Late, t.Missed, t.Disputed, t.Refused+t.Unprovable+t.Open)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Obligations) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE\tKIND\tOWED BY\tTO\tOBLIGATION\tSTART (t0)\tDUE (D)\tTENDERED (τ)\tSTATE\tWHY")
	for _, o := range r.Obligations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Message.String()[:16], o.Kind, o.To, o.From, o.Type, short(o.Start), short(o.Due), short(o.Tendered), o.State, o.Why)
	}
	return tw.Flush()
}

func short(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
