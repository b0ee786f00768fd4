package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/evidence"
	"github.com/hotline-net/hotline/internal/server"
)

func newComplianceExportCmd() *cobra.Command {
	var dir, party, since, until, out string
	cmd := &cobra.Command{
		Use:   "export --dir DIR --party P [--since T] [--until T] --out FILE",
		Short: "Export the evidence of every obligation between this party and P, for anyone to verify offline",
		Long: `Export writes an evidence bundle (docs/PROTOCOL.md §13): for every obligation
between the node's party and --party, the envelopes exchanged (stanzas and
ciphertext, with the inner header and its salt revealed and the body still
encrypted), the receipts and relay receipts the node holds, the witnessed
checkpoints of the node's own log with every cosignature and its time,
inclusion proofs (C2SP tlog-proof) of the node's log entries, the consistency
proofs between those checkpoints, and the agreement chain. The node's message
key signs it. --since and --until select messages by creation time.

It reads the node folder offline: stop the node first (its SQLite store
admits one process). Anyone verifies the bundle with hotline verify.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || party == "" || out == "" {
				return usageError{errors.New("--dir, --party and --out are required")}
			}
			s, err := parseTime("since", since, time.Time{})
			if err != nil {
				return err
			}
			u, err := parseTime("until", until, time.Time{})
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			src, err := server.OpenEvidence(ctx, dir, now())
			if err != nil {
				return err
			}
			defer src.Store.Close()
			ex, err := evidence.Export(ctx, src, party, s, u)
			if err != nil {
				return coded(err)
			}
			data, err := ex.Bundle.Marshal(src.Keys.Message)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			b := &ex.Bundle.Body
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s about %s: %d envelopes, %d receipts, %d relay receipts, %d checkpoints, %d inclusion proofs, %d consistency proofs (%d bytes)\n",
				out, src.Party, party, len(b.Envelopes), len(b.Receipts), len(b.RelayReceipts), len(b.Checkpoints), len(b.Inclusion), len(b.Consistency), len(data))
			for _, id := range ex.Unrevealed {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s left out: its inner header cannot be revealed\n", id)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "the node folder")
	f.StringVar(&party, "party", "", "the other party")
	f.StringVar(&since, "since", "", "only messages created at or after this time (RFC 3339, UTC)")
	f.StringVar(&until, "until", "", "only messages created before this time (RFC 3339, UTC)")
	f.StringVar(&out, "out", "", "the bundle file to write")
	return cmd
}

// pinFlags are the trust anchor flags of hotline verify.
type pinFlags struct{ genesis, depositaryKey string }

func (p *pinFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.genesis, "genesis", "", "the hash of version 1 of the agreement's terms: the trust anchor")
	cmd.Flags().StringVar(&p.depositaryKey, "depositary-key", "", "or: the depositary's root key (a vkey or its public.keys file) version 1 is issued under")
}

func (p *pinFlags) pin() (evidence.Pin, error) {
	key := p.depositaryKey
	if key != "" {
		if _, err := os.Stat(key); err == nil {
			pk, err := readPublicKeys(key)
			if err != nil {
				return evidence.Pin{}, err
			}
			if pk.Root == "" {
				return evidence.Pin{}, usageError{fmt.Errorf("--depositary-key %s: the file holds no root key", key)}
			}
			key = pk.Root
		}
	}
	pin, err := evidence.ParsePin(p.genesis, key)
	if err != nil {
		return pin, usageError{err}
	}
	return pin, nil
}

func readBundles(paths []string) ([]*evidence.Bundle, error) {
	var data [][]byte
	for _, p := range paths {
		d, err := readFileLimit(p, evidence.MaxSize)
		if err != nil {
			return nil, err
		}
		data = append(data, d)
	}
	bs, err := evidence.ParseAll(data)
	if err != nil {
		// Name the file, not its position.
		for i, d := range data {
			if _, perr := evidence.Parse(d); perr != nil {
				return nil, fmt.Errorf("%s: %w", paths[i], codedHotline(perr))
			}
		}
		return nil, codedHotline(err)
	}
	return bs, nil
}

// codedHotline puts a hotline error's stable code before its message.
func codedHotline(err error) error {
	if c := hotline.ErrorCode(err); c != "" && !strings.HasPrefix(err.Error(), c) {
		return fmt.Errorf("%s: %w", c, err)
	}
	return err
}

func newVerifyCmd() *cobra.Command {
	var (
		pf     pinFlags
		at     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify BUNDLE... --genesis HASH | --depositary-key VKEY [--at TIME] [--json]",
		Short: "Verify evidence bundles offline and judge every obligation they show",
		Long: `Verify checks evidence bundles (hotline compliance export) with nothing but
the bundles and the trust anchor you pin: --genesis, the hash of version 1 of
the agreement's terms, or --depositary-key, the depositary's root key. A chain
is never trusted because a bundle carries it. It checks the agreement chain,
the exporter's signature, every envelope's signature and revealed inner
header, every receipt and relay receipt, the witness quorum of every
checkpoint, every inclusion and consistency proof, that every log entry a
bundle proves stands for something it carries, and that no witness's
timestamps go down as a log grows. It uses no network.

It then judges every obligation on the union of the verified facts (bundles
of both sides merge: a tender either side shows counts), with the clock started
and the answer dated by neutral time (docs/DESIGN.md), as of --at (default
now), and prints the verdicts per obliged party — met on time, late, missed,
disputed — and each obligation with its reason. It exits non-zero, naming
what failed, if anything does not verify.

hotline verify log checks a node's log against its witnessed checkpoints.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pin, err := pf.pin()
			if err != nil {
				return err
			}
			atT, err := parseTime("at", at, now())
			if err != nil {
				return err
			}
			bs, err := readBundles(args)
			if err != nil {
				return err
			}
			rep, err := evidence.Verify(bs, pin, atT)
			if err != nil {
				return codedHotline(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					Bundles       []evidence.Summary `json:"bundles"`
					Tallies       []evidence.Tally   `json:"tallies"`
					Obligations   any                `json:"obligations"`
					Equivocations map[string]string  `json:"equivocations,omitempty"`
				}{rep.Bundles, rep.Tallies(), rep.Obligations, rep.Equivocations})
			}
			return rep.WriteText(cmd.OutOrStdout(), pin)
		},
	}
	pf.add(cmd)
	cmd.Flags().StringVar(&at, "at", "", "judge as of this time (default now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(newVerifyLogCmd())
	return cmd
}

func newVerifyLogCmd() *cobra.Command {
	var (
		pf      pinFlags
		agrFile string
		bundles []string
	)
	cmd := &cobra.Command{
		Use:   "log URL|DIR --genesis HASH | --depositary-key VKEY [--agreement FILE] [--bundle FILE]...",
		Short: "Check a node's log against its witnessed checkpoints",
		Long: `Log checks a node's log against the checkpoints witnesses cosigned: that
each carries the witness quorum, that the log's own tiles prove each one
extended by the log's latest checkpoint (the log was neither rewound nor
forked since the witnesses saw it), and that no witness's timestamps go down
as the log grows.

DIR is a node folder (read offline; stop the node first): the witnessed
checkpoints are those the node recorded of its own log, and the agreement the
chain it holds. URL is a node's address (its log at URL/log): the witnessed
checkpoints are those the --bundle files carry of that log, and the
agreement --agreement FILE (or the first bundle's). Either way the agreement
must be rooted at the pinned genesis.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pin, err := pf.pin()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			bs, err := readBundles(bundles)
			if err != nil {
				return err
			}
			c := evidence.LogCheck{Pin: pin, At: now()}
			target := args[0]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
				switch {
				case agrFile != "":
					if c.Agreement, err = readAgreement(agrFile); err != nil {
						return err
					}
				case len(bs) > 0:
					if c.Agreement, err = agreement.Parse(bs[0].Body.Agreement); err != nil {
						return coded(err)
					}
				default:
					return usageError{errors.New("a log URL needs --agreement FILE or a --bundle")}
				}
				u := evidence.URLTiles{Base: strings.TrimSuffix(target, "/") + "/log", HC: &http.Client{Timeout: 30 * time.Second}}
				if c.Latest, err = u.Checkpoint(ctx); err != nil {
					return err
				}
				c.Tiles = u.Tile
				var owner string
				for _, p := range c.Agreement.Parties() {
					if o, err := c.Agreement.LogOrigin(p.ID); err == nil && strings.HasPrefix(string(c.Latest), o+"\n") {
						owner = p.ID
					}
				}
				c.Witnessed = evidence.CheckpointsOf(bs, c.Agreement, owner)
			} else {
				src, err := server.OpenEvidence(ctx, target, now())
				if err != nil {
					return err
				}
				defer src.Store.Close()
				c.Agreement = src.Agreement
				c.Tiles = src.Tiles
				if c.Latest, err = os.ReadFile(filepath.Join(target, server.LogDir, "tessera", "checkpoint")); err != nil {
					return fmt.Errorf("reading the log's checkpoint: %w", err)
				}
				if c.Witnessed, err = evidence.OwnWitnessed(ctx, src); err != nil {
					return err
				}
				c.Witnessed = append(c.Witnessed, evidence.CheckpointsOf(bs, c.Agreement, src.Party)...)
			}
			rep, err := evidence.VerifyLog(ctx, c)
			if err != nil {
				return codedHotline(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s's log: checkpoint of size %d", rep.Owner, rep.Size)
			if rep.Witnessed {
				fmt.Fprintf(w, ", witnessed")
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "%d witnessed checkpoints (largest %d) proven extended by it, from the log's tiles: ok\n", rep.Checked, rep.Largest)
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().StringVar(&agrFile, "agreement", "", "the agreement file, for a log URL")
	cmd.Flags().StringArrayVar(&bundles, "bundle", nil, "an evidence bundle whose checkpoints of this log must be extended by it (repeatable)")
	return cmd
}
