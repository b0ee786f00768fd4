package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/server"
	"github.com/hotline-net/hotline/internal/tlog"
)

func newLogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "The node's log: restore it after a restore from backup",
	}
	cmd.AddCommand(newLogRestoreCmd())
	return cmd
}

func newLogRestoreCmd() *cobra.Command {
	var (
		dir, database string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "restore --dir DIR [--json]",
		Short: "Refill a node's log restored from a backup, and store again what the backup lacks",
		Long: `Restore brings a node folder restored from a backup back to what its witnesses
cosigned. A node started on an old backup learns from a witness that its log is
behind a checkpoint it signed, stops appending ("log rewound") and refuses
every envelope; run this, with the node stopped, then start it again.

It asks every witness of the agreement's policy for the latest checkpoint of
this node's log it cosigned, and every peer (a signed POST /v1/redeliver) for
the envelopes the peer sent this node and holds this node's receipts for,
beyond the restored log. It appends the log entry each receipt names, in
order, up to the largest cosigned checkpoint; checks the log against every
witness's checkpoint; and stores each envelope again at the index its receipt
names, issuing the same receipt. The node's sending sequence number to each
peer continues after the last the peer received from it. The log folder is
kept as it was in
DIR/log.before-restore-TIME, and put back if a check fails.

An entry no peer's receipt names (an envelope this node sent, or a receipt or
refusal it received, after the backup) is taken from a peer's copy of this
node's log: every node keeps a copy of each peer's log up to its largest
witnessed checkpoint, and serves it to parties under /mirror/. The copy is
checked first: after the entries the restored log holds, it must build the
largest checkpoint a witness cosigned. With no such copy (peers sync theirs
every heartbeat interval; wait one and run this again) the restore stops
before the log is touched. What this node sent after the backup stays with its
recipients: the restored node's own outbox does not hold it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{errors.New("--dir is required")}
			}
			h, err := logHandler(cmd.ErrOrStderr(), "auto", slog.LevelWarn)
			if err != nil {
				return err
			}
			logger := slog.New(h)
			tlog.RouteKlog(logger)
			bodies, err := node.NewTemplates()
			if err != nil {
				return err
			}
			rep, err := server.Restore(cmd.Context(), dir, server.Options{Bodies: bodies, Logger: logger, Database: database})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
				return nil
			}
			fmt.Fprintf(w, "log: %d entries before, %d now; the largest cosigned checkpoint: %d (witness %s)\n", rep.Before, rep.After, rep.Witnessed, rep.Witness)
			fmt.Fprintf(w, "checked against %d witnesses' checkpoints\n", rep.Checked)
			peers := make([]string, 0, len(rep.Redelivered))
			for p, n := range rep.Redelivered {
				peers = append(peers, fmt.Sprintf("%s %d", p, n))
			}
			sort.Strings(peers)
			fmt.Fprintf(w, "redelivered: %s; stored again: %d\n", strings.Join(peers, ", "), rep.Stored)
			if rep.Copied > 0 {
				fmt.Fprintf(w, "entries no receipt names, from %s's copy of the log: %d\n", rep.CopiedFrom, rep.Copied)
			}
			if len(rep.Sequences) > 0 {
				var seqs []string
				for p, n := range rep.Sequences {
					seqs = append(seqs, fmt.Sprintf("%s after %d", p, n))
				}
				sort.Strings(seqs)
				fmt.Fprintf(w, "sending sequence numbers continue: %s\n", strings.Join(seqs, ", "))
			}
			if len(rep.Unreachable) > 0 {
				fmt.Fprintf(w, "did not answer: %s\n", strings.Join(rep.Unreachable, ", "))
			}
			if rep.Saved != "" {
				fmt.Fprintf(w, "the log folder as it was: %s\n", rep.Saved)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder (the node must not be running)")
	f.StringVar(&database, "db", "", "PostgreSQL URL, overriding the config (default: the config's, else SQLite)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
