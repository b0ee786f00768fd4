package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/internal/faults"
)

func newBenchFaultsCmd() *cobra.Command {
	var (
		rounds, messages int
		seed             uint64
		dir              string
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "faults --rounds N --messages M --seed S [--dir DIR] [--json]",
		Short: "Run a fault campaign against a testnet of node processes, checking the invariants every round",
		Long: `Faults makes a testnet (DEP, the relay and a witness, and BER, CRI and DOR),
starts every node as its own process behind a TCP proxy its peers reach it
through, each with its own clock offset within ±2 minutes (any two clocks up
to 4 minutes apart), and runs N rounds. In each, the parties' operators send
M/N exercise notifications between random parties; meanwhile one node's proxy
delays, drops, resets or blackholes new connections for up to 3 s, and, in
turn by the round's number:

  kill        one node — a message's sender, its recipient, or the relay — is
              killed with SIGKILL and started again after a pause;
  restore     a party's node is backed up at the round's start, receives the
              round's messages, is killed, and is restored from the backup
              with hotline log restore before it starts again;
  disk_full   a party's store fails every write for a few seconds, as a full
              disk would: the node must refuse new messages with 503,
              Retry-After and storage_full, still serve its status and its
              log, and take writes again by itself;
  clock_skew  a node's clock is set 6 minutes past every other's, beyond the
              request window: it and a peer must raise the clock-skew alarm;
              then its clock is set right.

Then, once no outbox holds anything undelivered, it checks that every message
an operator was told was sent is received once with the receipt its sender
holds, that every log is consistent with every checkpoint of it a witness
holds cosigned, and that no node counts an equivocation or an alarm, or logs
one, but those the round's faults cause.

The seed decides every choice (which messages, which node, when, how long,
the clock offsets): the same seed runs the same campaign. It prints a line
per round (--json: the report as JSON at the end) and exits 1 if an
invariant did not hold. --dir keeps the testnet and the nodes' logs
(PARTY.log) there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rounds < 1 || messages < rounds {
				return usageError{errors.New("--rounds must be at least 1 and --messages at least --rounds")}
			}
			bin, err := self()
			if err != nil {
				return err
			}
			progress := cmd.OutOrStdout()
			if asJSON {
				progress = cmd.ErrOrStderr()
			}
			res, err := faults.Run(cmd.Context(), faults.Config{
				Rounds: rounds, Messages: messages, Seed: seed, Binary: bin, Dir: dir, Progress: progress,
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
			} else {
				fmt.Fprintf(w, "seed %d: %d rounds, %d messages sent, %d faults injected, %d invariants checked, %d violated (%.1fs)\n",
					res.Seed, len(res.Rounds), res.Sent, res.Faults, res.Invariants, len(res.Violations), res.Seconds)
				for _, v := range res.Violations {
					fmt.Fprintf(w, "VIOLATED: %s\n", v)
				}
			}
			if len(res.Violations) > 0 {
				return fmt.Errorf("%d invariants did not hold", len(res.Violations))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&rounds, "rounds", 4, "rounds")
	f.IntVar(&messages, "messages", 400, "messages in all, spread over the rounds")
	f.Uint64Var(&seed, "seed", 1, "the seed of every random choice")
	f.StringVar(&dir, "dir", "", "keep the testnet and the nodes' logs in this folder (default: a temporary one, removed)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (progress on standard error)")
	return cmd
}

// self returns the program to run the nodes with: this one, as it was
// invoked (found in PATH if it was by name), so that a wrapper — a test
// binary acting as hotline — is run the same way.
func self() (string, error) {
	if name := os.Args[0]; !strings.ContainsRune(name, os.PathSeparator) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	} else if filepath.Base(name) == "hotline" || !strings.HasSuffix(name, ".test") {
		return filepath.Abs(name)
	}
	return os.Executable()
}
