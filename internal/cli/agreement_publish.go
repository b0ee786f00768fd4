package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/chain"
	"github.com/hotline-net/hotline/internal/opapi"
)

func newAgreementPublishCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "publish --dir NODE_DIR FILE",
		Short: "Put a signed agreement document in force at this party's running node, and so at every peer",
		Long: `publish hands one signed document — a directory entry (sign-entry --out), a
root statement (rotate-root --out), a version of the terms, a ratification
(ratify --out) — to the running node in NODE_DIR through its operator API
(the admin token in NODE_DIR). The node checks that the document extends the
agreement chain it holds, keeps it, and puts it in force at once, without a
restart; the depositary's node logs its hash. The node's heartbeats then
offer it to every peer, which take it in within two heartbeat rounds.

A document that does not extend the chain is refused with its code: an
older or repeated sequence (bad_chain), a wrong signer (bad_signature), a
second document for a place the chain holds (fork — kept as proof).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			b, err := readFileLimit(args[0], agreement.MaxSize)
			if err != nil {
				return err
			}
			if _, err := agreement.Describe(b); err != nil {
				return fmt.Errorf("%s: %w", args[0], coded(err))
			}
			var a chain.Answer
			if err := op.post(cmd.Context(), "/api/v1/agreement/documents", b, &a); err != nil {
				return err
			}
			what := map[string]string{agreement.TermsTag: "version", agreement.EntryTag: "entry", agreement.RootTag: "root statement"}[a.Tag]
			if what == "" {
				what = "ratification of version"
			}
			state := "in force"
			if !a.New {
				state = "already held"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %d %s: %s\n", a.Party, what, a.Sequence, a.Hash, state)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the node folder")
	return cmd
}

// post sends raw bytes to the operator API and decodes the JSON answer.
func (o *operator) post(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := o.http.Do(req)
	if err != nil {
		return fmt.Errorf("is the node running? %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var ref opapi.Refusal
		if json.Unmarshal(b, &ref) == nil && ref.Code != "" {
			return fmt.Errorf("refused (%s): %s", ref.Code, ref.Message)
		}
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return json.Unmarshal(b, out)
}

func newAgreementStatusCmd() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status --dir NODE_DIR [--json]",
		Short: "Show the agreement chain the running node holds",
		Long: `status asks the running node in NODE_DIR for the agreement chain it holds:
the versions of the terms with who ratified each, the version in force with
each peer, each party's latest directory entry and sequence, root
statements, contacts (stale ones — not reconfirmed within the terms'
contact_reconfirmation — flagged), what is pending, and the documents a
party signed that the node refused and the forks it keeps as proof.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := newOperator(dir)
			if err != nil {
				return err
			}
			var st chain.Status
			if err := op.call(cmd.Context(), http.MethodGet, "/api/v1/agreement", nil, &st); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, &st)
			}
			return printChainStatus(w, &st)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the node folder")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printChainStatus(w io.Writer, st *chain.Status) error {
	fmt.Fprintf(w, "%s holds agreement chain %s; version %d in force\n\n", st.Party, st.Digest, st.InForce)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tEFFECTIVE\tRATIFIED BY\tNOT YET")
	for _, v := range st.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.Version, v.Effective, dash(strings.Join(v.RatifiedBy, " ")), dash(strings.Join(v.NotRatifiedBy, " ")))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tVERSION IN FORCE")
	for _, p := range st.Peers {
		v := fmt.Sprint(p.Version)
		if p.Error != "" {
			v = "none: " + p.Error
		}
		fmt.Fprintf(tw, "%s\t%s\n", p.Party, v)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTY\tENTRY\tISSUED\tROOT STATEMENTS\tCONTACTS")
	for _, p := range st.Parties {
		var contacts []string
		for _, c := range p.Contacts {
			s := c.ID
			if c.Stale {
				s += " (STALE since " + c.Reconfirmed + ")"
			}
			contacts = append(contacts, s)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", p.Party, p.Sequence, dash(p.Issued), len(p.RootStatements), dash(strings.Join(contacts, ", ")))
	}
	tw.Flush()
	if len(st.Pending) > 0 {
		fmt.Fprintln(w, "\nPending:")
		for _, p := range st.Pending {
			fmt.Fprintln(w, "  "+p)
		}
	}
	if len(st.Refused) > 0 {
		fmt.Fprintln(w, "\nALARM — refused documents a party signed:")
		for _, r := range st.Refused {
			fmt.Fprintf(w, "  %s %s/%d from %s at %s: %s\n", r.Tag, r.Party, r.Sequence, r.From, r.At, r.Reason)
		}
	}
	if len(st.Forks) > 0 {
		fmt.Fprintln(w, "\nEQUIVOCATION — forks kept as proof (hotline peers --json shows them):")
		for _, f := range st.Forks {
			fmt.Fprintf(w, "  %s, found %s\n", f.Party, f.At)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
