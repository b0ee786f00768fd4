package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/opapi"
)

func newThreadCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "thread --dir DIR ID [--json]",
		Short: "Show a thread as a timeline: its state, messages and obligations",
		Long: `Thread prints a case from its first message on: the thread's state (open,
acknowledged, responded, closed or retracted), each message in the order the
node learned of it, and each obligation the thread's messages create — who owes
whom what, due when, and whether it was met on time, late, missed, refused,
withdrawn, unprovable or disputed. ID is the thread's id (its first message's
id) or the id of any message in it, or a unique prefix of either.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			id, err := resolveID(ctx, op, args[0])
			if err != nil {
				return err
			}
			var m opapi.Message
			if err := op.call(ctx, http.MethodGet, "/api/v1/messages/"+id, nil, &m); err != nil {
				return err
			}
			var t opapi.ThreadResponse
			if err := op.call(ctx, http.MethodGet, "/api/v1/threads/"+m.Thread, nil, &t); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), t)
			}
			printThread(cmd.OutOrStdout(), &t)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printThread(w io.Writer, t *opapi.ThreadResponse) {
	fmt.Fprintf(w, "thread %s: %s (as of %s)\n\n", t.Thread, t.State, shortTime(t.At))
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	add := func(at, text string) {
		tt, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return
		}
		// to the second, as receipts state times: a message comes before
		// the clock it starts
		lines = append(lines, line{tt.Truncate(time.Second), text})
	}
	for _, m := range t.Messages {
		add(m.At, fmt.Sprintf("%s %s → %s  %s (%s)  %s", m.Kind, m.From, strings.Join(m.To, ","), m.Severity, m.Direction, m.ID[:16]))
	}
	for _, o := range t.Obligations {
		if o.Start != "" {
			add(o.Start, fmt.Sprintf("  clock starts: %s owes %s %s of %s, due %s", o.To, o.From, noun(o.Type), o.Message[:16], shortTime(o.Due)))
		}
		if o.Tendered != "" {
			add(o.Tendered, fmt.Sprintf("  %s tendered %s (%s)", o.To, noun(o.Type), o.Reply[:16]))
		}
	}
	// A stable sort keeps messages before the obligations that start with
	// them.
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].at.Before(lines[j-1].at); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%s  %s\n", l.at.UTC().Format("2006-01-02 15:04:05Z"), l.text)
	}
	if len(t.Obligations) > 0 {
		fmt.Fprintln(w)
		printObligations(w, t.Obligations)
	}
	for _, e := range t.Events {
		fmt.Fprintf(w, "%s  %s: %s owes %s %s of %s\n", shortTime(e.At), e.Kind, e.To, e.From, noun(e.Type), e.Message[:16])
	}
}

// noun names what an obligation type asks for.
func noun(t string) string {
	switch t {
	case "acknowledge":
		return "an acknowledgement"
	case "respond":
		return "a response"
	case "formal_response":
		return "a formal response"
	}
	return t
}

// printObligations prints obligations as a table.
func printObligations(w io.Writer, obs []opapi.Obligation) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE\tKIND\tOWED BY\tTO\tOBLIGATION\tDUE\tSTATE\tWHY")
	for _, o := range obs {
		st := o.State
		switch {
		case o.Overdue && o.State == "open":
			st = "OVERDUE"
		case o.DueSoon:
			st = "due soon"
		case o.Paused:
			st = "open (paused)"
		}
		due := shortTime(o.Due)
		if due == "" {
			due = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Message[:16], o.Kind, o.To, o.From, o.Type, due, st, o.Why)
	}
	tw.Flush()
}

// printDue prints the open obligations of a listing: what is due and what
// is overdue. The caller passes those of the direction listed.
func printDue(ctx context.Context, w io.Writer, op *operator, sent bool) error {
	q := url.Values{"state": {"due"}, "direction": {"received"}}
	title := "owed by us"
	if sent {
		q.Set("direction", "sent")
		title = "owed to us"
	}
	var list opapi.ObligationList
	if err := op.call(ctx, http.MethodGet, "/api/v1/obligations?"+q.Encode(), nil, &list); err != nil {
		return err
	}
	var open []opapi.Obligation
	for _, o := range list.Obligations {
		if o.Due != "" || o.Paused {
			open = append(open, o)
		}
	}
	fmt.Fprintf(w, "\nobligations %s, open or overdue: %d\n", title, len(open))
	if len(open) > 0 {
		printObligations(w, open)
	}
	if !sent {
		return nil
	}
	// What the watch proposes for what is owed to us: the newest few, each
	// with the command that sends it.
	var esc opapi.EscalationList
	if err := op.call(ctx, http.MethodGet, "/api/v1/escalations?event=propose_consultation", nil, &esc); err != nil {
		return err
	}
	if len(esc.Proposals) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nconsultations proposed by the watch (not sent): %d\n", len(esc.Proposals))
	for _, a := range esc.Proposals[:min(len(esc.Proposals), 3)] {
		fmt.Fprintf(w, "  %s\n    to send it: %s\n", a.Summary, a.Command)
	}
	if len(esc.Proposals) > 3 {
		fmt.Fprintln(w, "  (hotline escalations --event propose_consultation lists them all)")
	}
	return nil
}

func newComplianceCmd() *cobra.Command {
	var (
		dir, party, since, until string
		asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "compliance --dir DIR [--party P] [--since T --until T] [--json]",
		Short: "Report who met which obligations: per party and kind, on time, late, missed, refused, unprovable, open",
		Long: `Compliance judges every obligation the node's store shows — those this party
owes others and those others owe it — and reports, per obliged party and per
message kind and obligation: met on time, met late, missed, refused,
unprovable, disputed, withdrawn and open, with the median and 90th percentile
time to acknowledge and to respond. --since and --until (RFC 3339) select
obligations whose clock started in [since, until). The operator API serves the
same report at GET /api/v1/compliance (officer and auditor roles).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			q := url.Values{}
			if party != "" {
				if err := op.checkFilter(party, ""); err != nil {
					return err
				}
				q.Set("party", party)
			}
			for _, p := range []struct{ flag, v string }{{"since", since}, {"until", until}} {
				if p.v == "" {
					continue
				}
				if _, err := time.Parse(time.RFC3339, p.v); err != nil {
					return usageError{fmt.Errorf("--%s %q: want an RFC 3339 time, like 2026-03-01T00:00:00Z", p.flag, p.v)}
				}
				q.Set(p.flag, p.v)
			}
			var rep obligations.ComplianceReport
			if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/compliance?"+q.Encode(), nil, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&party, "party", "", "only the obligations of this party")
	f.StringVar(&since, "since", "", "only obligations whose clock started at or after this time (RFC 3339)")
	f.StringVar(&until, "until", "", "only obligations whose clock started before this time (RFC 3339)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
