package cli

import (
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/internal/opapi"
)

func newPeersCmd() *cobra.Command {
	var (
		dir     string
		asJSON  bool
		noProbe bool
	)
	cmd := &cobra.Command{
		Use:   "peers --dir DIR [--json]",
		Short: "Show the channel to each peer: up or down, latency, uptime, sequence gaps",
		Long: `Peers shows what the running node's heartbeats found about each peer: whether
the last exchange worked, its round trip, the share of rounds that worked in
the last 24 hours, and the sequence numbers each side has seen from the other
("you say you sent up to 41; I have 39"), and the largest size of the peer's
log that the agreement's witness quorum vouched for (a checkpoint only the
peer signed does not count), how long ago and by whom. Alarms about a log
(equivocations, consistency that cannot be proven, a witness whose
timestamps go back) are listed last. CLOCK is the peer's clock minus this
node's, measured from heartbeat times; a peer beyond the 5 min request window
raises the clock skew alarm, listed last too (check NTP).

It first exchanges heartbeats with every peer (up to 5 s each), so it shows
the channels as they are now; --no-probe shows what the last scheduled round
found instead. LAST SEEN is how long ago the peer's last heartbeat arrived.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			var list opapi.PeerList
			path := "/api/v1/peers?probe=1"
			if noProbe {
				path = "/api/v1/peers"
			}
			if err := op.call(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			var eq opapi.EquivocationList
			if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/equivocations", nil, &eq); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, struct {
					opapi.PeerList
					opapi.EquivocationList
				}{list, eq})
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PEER\tCHANNEL\tLATENCY\tUP 24H\tLAST SEEN\tCLOCK\tSENT→THEM\tTHEY HAVE\tTHEY SENT\tWE HAVE\tLOG WITNESSED\tGAPS")
			for _, p := range list.Peers {
				state := "down"
				if p.Up {
					state = "up"
				} else if p.LastAttempt == "" {
					state = "not probed"
				}
				uptime := "-"
				if p.Rounds > 0 {
					uptime = fmt.Sprintf("%.1f%% of %d", 100*p.Uptime24h, p.Rounds)
				}
				var gaps []string
				for _, m := range p.Missing {
					if m[0] == m[1] {
						gaps = append(gaps, fmt.Sprint(m[0]))
					} else {
						gaps = append(gaps, fmt.Sprintf("%d-%d", m[0], m[1]))
					}
				}
				if p.TheyReceived < p.Sent {
					gaps = append(gaps, fmt.Sprintf("they lack %d-%d", p.TheyReceived+1, p.Sent))
				}
				witnessed := "-"
				if p.Log.AgeSeconds != nil {
					witnessed = fmt.Sprintf("%d, %s ago, by %s", p.Log.WitnessedSize, time.Duration(*p.Log.AgeSeconds)*time.Second, strings.Join(p.Log.Cosigners, " "))
				}
				fmt.Fprintf(tw, "%s\t%s\t%.1f ms\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Party, state, p.LatencyMS, uptime,
					seenAgo(p.SeenAgoMS), clockOffset(p.ClockOffsetMS), p.Sent, p.TheyReceived, p.TheySent, p.Received, witnessed, strings.Join(gaps, ", "))
			}
			tw.Flush()
			for _, p := range list.Peers {
				for _, a := range p.Log.Alarms {
					fmt.Fprintf(w, "ALARM about %s's log %s: %s\n", p.Party, p.Log.Origin, a)
				}
			}
			for _, p := range list.Peers {
				if p.ClockAlarm != "" {
					fmt.Fprintf(w, "ALARM: clock skew with %s: its clock is %s from this node's, beyond the request window; %s (check NTP)\n",
						p.Party, clockOffset(p.ClockOffsetMS), p.ClockAlarm)
				}
			}
			for _, e := range eq.Equivocations {
				fmt.Fprintf(w, "EQUIVOCATION by log %s, found %s (the proof: hotline peers --json)\n", e.Origin, shortTime(e.At))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the node folder")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&noProbe, "no-probe", false, "show the last scheduled round's findings without probing")
	return cmd
}

// seenAgo shows how long ago a peer was seen, or "never".
func seenAgo(ms *int64) string {
	if ms == nil {
		return "never"
	}
	return (time.Duration(*ms) * time.Millisecond).Round(time.Second).String() + " ago"
}

// clockOffset shows a peer's clock offset with its sign, or "-" when not
// measured.
func clockOffset(ms *int64) string {
	if ms == nil {
		return "-"
	}
	d := (time.Duration(*ms) * time.Millisecond).Round(time.Second)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}
