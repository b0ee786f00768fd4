package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/opapi"
)

func newEscalationsCmd() *cobra.Command {
	var (
		dir, event, thread string
		asJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "escalations --dir DIR [--event E] [--thread ID] [--json]",
		Short: "List the warnings, alerts and escalation steps the node's watch acted on, and the consultations it proposes",
		Long: `The node's watch judges the obligations it holds every watch_interval (config,
default 1m) and acts on each event once: a warning when an obligation is due
soon, an alert when it is overdue, and for an obligation owed to this node the
agreement's escalation steps — the message resent through a relay (if the
recipient has not receipted it), the obliged party's diplomatic contact (who
to call: the node sends no e-mail), and a consultation_request proposed to the
officer, never sent by the node. Escalations lists them newest first; each
proposal is followed by the command that sends it. --event selects one of
warning, alert, resend_via_relay, notify_diplomatic_contact,
propose_consultation. The operator API serves the list at
GET /api/v1/escalations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			q := url.Values{}
			if event != "" {
				q.Set("event", event)
			}
			if thread != "" {
				if _, err := hotline.ParseID(thread); err != nil {
					return usageError{fmt.Errorf("--thread %q: want a 64-hex-digit thread id: %v", thread, err)}
				}
				q.Set("thread", thread)
			}
			var l opapi.EscalationList
			if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/escalations?"+q.Encode(), nil, &l); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), l)
			}
			w := cmd.OutOrStdout()
			if len(l.Actions) == 0 {
				fmt.Fprintln(w, "no warnings, alerts or escalation steps yet")
				return nil
			}
			for _, a := range l.Actions {
				fmt.Fprintf(w, "%s  %-25s %s\n", a.Acted.UTC().Format(time.RFC3339), a.Event, a.Summary)
				fmt.Fprintf(w, "    %s %s %s → %s, %s due %s (%s)\n", a.Kind, a.Message.String()[:12], a.From, a.To, a.Type, a.Due.UTC().Format(time.RFC3339), a.State)
				if a.Error != "" {
					fmt.Fprintf(w, "    error: %s\n", a.Error)
				}
				if a.Command != "" {
					fmt.Fprintf(w, "    to send it: %s\n", a.Command)
				}
			}
			fmt.Fprintf(w, "consultations proposed: %d\n", len(l.Proposals))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&event, "event", "", "only this event")
	f.StringVar(&thread, "thread", "", "only this thread")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
