package obligations

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/hotline-net/hotline/agreement"
)

// Filter selects the obligations a [Report] covers. Zero fields select
// everything.
type Filter struct {
	// Party selects the obligations of one obliged party.
	Party string
	// Since and Until select obligations whose clock started (or, not yet
	// started, whose message was judged) in [Since, Until).
	Since, Until time.Time
}

// Counts counts obligations by state.
type Counts struct {
	MetOnTime  int `json:"met_on_time"`
	MetLate    int `json:"met_late"`
	Missed     int `json:"missed"`
	Refused    int `json:"refused"`
	Unprovable int `json:"unprovable"`
	Disputed   int `json:"disputed"`
	Withdrawn  int `json:"withdrawn"`
	Open       int `json:"open"`
}

func (c *Counts) add(s State) {
	switch s {
	case MetOnTime:
		c.MetOnTime++
	case MetLate:
		c.MetLate++
	case Missed:
		c.Missed++
	case Refused:
		c.Refused++
	case Unprovable:
		c.Unprovable++
	case Disputed:
		c.Disputed++
	case Withdrawn:
		c.Withdrawn++
	case Open:
		c.Open++
	}
}

// Total returns the number of obligations counted.
func (c Counts) Total() int {
	return c.MetOnTime + c.MetLate + c.Missed + c.Refused + c.Unprovable + c.Disputed + c.Withdrawn + c.Open
}

// KindCounts counts one party's obligations of one message kind and type.
type KindCounts struct {
	Kind string                   `json:"kind"`
	Type agreement.ObligationType `json:"type"`
	Counts
}

// Times summarises how long a party took to answer: the median and the
// 90th percentile (nearest rank) over N answers. Zero when N is 0.
type Times struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median_ns"`
	P90    time.Duration `json:"p90_ns"`
}

// PartyReport is one obliged party's record.
type PartyReport struct {
	Party string `json:"party"`
	// Total counts every obligation of the party; Kinds by message kind
	// and obligation type, in the order of the kinds' names.
	Total Counts       `json:"total"`
	Kinds []KindCounts `json:"kinds"`
	// Acknowledge is the time to acknowledge; Respond the time to respond
	// (responses and formal responses), over obligations met on time or
	// late.
	Acknowledge Times `json:"acknowledge"`
	Respond     Times `json:"respond"`
}

// ComplianceReport is the compliance report over a set of obligations:
// one [PartyReport] per obliged party, in the order of the parties' ids.
type ComplianceReport struct {
	Since   time.Time     `json:"since,omitzero"`
	Until   time.Time     `json:"until,omitzero"`
	At      time.Time     `json:"at"`
	Parties []PartyReport `json:"parties"`
}

// Report counts obs by obliged party, kind and state as f selects, with
// the times to acknowledge and respond; at is the time they were judged.
func Report(obs []Obligation, f Filter, at time.Time) ComplianceReport {
	type acc struct {
		r        PartyReport
		kinds    map[[2]string]*KindCounts
		ack, res []time.Duration
	}
	parties := map[string]*acc{}
	for i := range obs {
		o := &obs[i]
		if f.Party != "" && o.To != f.Party {
			continue
		}
		if !f.Since.IsZero() || !f.Until.IsZero() {
			t := o.Start
			if t.IsZero() {
				t = at
			}
			if (!f.Since.IsZero() && t.Before(f.Since)) || (!f.Until.IsZero() && !t.Before(f.Until)) {
				continue
			}
		}
		a := parties[o.To]
		if a == nil {
			a = &acc{r: PartyReport{Party: o.To}, kinds: map[[2]string]*KindCounts{}}
			parties[o.To] = a
		}
		k := [2]string{o.Kind, string(o.Type)}
		kc := a.kinds[k]
		if kc == nil {
			kc = &KindCounts{Kind: o.Kind, Type: o.Type}
			a.kinds[k] = kc
		}
		kc.add(o.State)
		a.r.Total.add(o.State)
		if d, ok := o.Elapsed(); ok {
			if o.Type == agreement.Acknowledge {
				a.ack = append(a.ack, d)
			} else {
				a.res = append(a.res, d)
			}
		}
	}
	rep := ComplianceReport{Since: f.Since, Until: f.Until, At: at, Parties: []PartyReport{}}
	for _, a := range parties {
		for _, kc := range a.kinds {
			a.r.Kinds = append(a.r.Kinds, *kc)
		}
		slices.SortFunc(a.r.Kinds, func(x, y KindCounts) int {
			if x.Kind != y.Kind {
				if x.Kind < y.Kind {
					return -1
				}
				return 1
			}
			return typeOrder(x.Type) - typeOrder(y.Type)
		})
		a.r.Acknowledge, a.r.Respond = summarise(a.ack), summarise(a.res)
		rep.Parties = append(rep.Parties, a.r)
	}
	slices.SortFunc(rep.Parties, func(x, y PartyReport) int {
		if x.Party < y.Party {
			return -1
		}
		if x.Party > y.Party {
			return 1
		}
		return 0
	})
	return rep
}

func typeOrder(t agreement.ObligationType) int {
	return slices.Index(agreement.ObligationTypes(), t)
}

// summarise returns the median and nearest-rank 90th percentile of ds.
func summarise(ds []time.Duration) Times {
	if len(ds) == 0 {
		return Times{}
	}
	slices.Sort(ds)
	rank := func(p int) time.Duration {
		// nearest rank: the smallest value with at least p% at or below it
		i := (p*len(ds) + 99) / 100
		return ds[max(i, 1)-1]
	}
	return Times{N: len(ds), Median: rank(50), P90: rank(90)}
}

// WriteText writes the report as text: one table per party, by kind and
// obligation, with the times to answer.
func (r *ComplianceReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "compliance as of %s\n", r.At.UTC().Format("2006-01-02 15:04:05Z"))
	if len(r.Parties) == 0 {
		_, err := fmt.Fprintln(w, "no obligations")
		return err
	}
	for _, p := range r.Parties {
		fmt.Fprintf(w, "\n%s: %d obligations; to acknowledge %s; to respond %s\n", p.Party, p.Total.Total(), p.Acknowledge, p.Respond)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "KIND\tOBLIGATION\tON TIME\tLATE\tMISSED\tREFUSED\tUNPROVABLE\tDISPUTED\tWITHDRAWN\tOPEN\t")
		for _, k := range p.Kinds {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", k.Kind, k.Type, k.MetOnTime, k.MetLate, k.Missed, k.Refused, k.Unprovable, k.Disputed, k.Withdrawn, k.Open)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// String describes the times: "median 3h, p90 5h over 12", or "no answers".
func (t Times) String() string {
	if t.N == 0 {
		return "no answers"
	}
	return fmt.Sprintf("median %s, p90 %s over %d", t.Median.Round(time.Second), t.P90.Round(time.Second), t.N)
}
