package cli

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementSignCmd() *cobra.Command {
	var keys, effective, policyFile string
	var quorum int
	cmd := &cobra.Command{
		Use:   "sign --keys DIR [--effective TIME] [--quorum K | --policy FILE]",
		Short: "Issue the draft as the next version, signed by the depositary",
		Long: `sign signs the draft of the next version with the depositary's root key and
adds it to the chain of versions: its hash is what envelopes sent under it
name and what parties ratify. It takes effect at --effective (default now).

--quorum K sets the witness quorum to K cosignatures among the witnesses
(other than a log's owner; 0 for none); --policy FILE sets C2SP tlog-policy
"group" and "quorum" lines over the witnesses' party ids.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := agreementPath(cmd)
			a, err := readAgreement(path)
			if err != nil {
				return err
			}
			d, ok := a.Draft()
			if !ok {
				return errNoDraft
			}
			ks, err := loadSigningKeys(keys)
			if err != nil {
				return err
			}
			if ks.Party != d.Depositary {
				return fmt.Errorf("the keys in %s are %s's; the depositary is %s", keys, ks.Party, d.Depositary)
			}
			switch {
			case cmd.Flags().Changed("quorum") && policyFile != "":
				return usageError{fmt.Errorf("--quorum and --policy exclude each other")}
			case cmd.Flags().Changed("quorum"):
				d.Witnesses.Policy = agreement.DefaultPolicy(d.Witnesses.Parties, quorum)
			case policyFile != "":
				b, err := readFileLimit(policyFile, 1<<20)
				if err != nil {
					return err
				}
				d.Witnesses.Policy = nil
				for _, l := range strings.Split(string(bytes.TrimSpace(b)), "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						d.Witnesses.Policy = append(d.Witnesses.Policy, l)
					}
				}
			}
			d.Issued = now()
			if d.Effective, err = parseTime("effective", effective, d.Issued); err != nil {
				return err
			}
			note, err := agreement.SignTerms(d, ks.Root)
			if err != nil {
				return coded(err)
			}
			b, err := a.With(note)
			if err != nil {
				return coded(err)
			}
			if err := writeAgreement(path, b); err != nil {
				return err
			}
			v := b.Latest()
			fmt.Fprintf(cmd.OutOrStdout(), "signed version %d: %s, effective %s\n", v.Number(), v.Hash(), hotline.FormatTime(v.Effective()))
			fmt.Fprintf(cmd.OutOrStdout(), "each party now ratifies it: hotline agreement ratify --keys DIR\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&keys, "keys", "", "the depositary's key directory (with its root key)")
	cmd.Flags().StringVar(&effective, "effective", "", "when the version takes effect (default now)")
	cmd.Flags().IntVar(&quorum, "quorum", 0, "cosignatures a checkpoint needs from witnesses other than its log's owner")
	cmd.Flags().StringVar(&policyFile, "policy", "", "a file of C2SP tlog-policy group and quorum lines over the witnesses")
	return cmd
}

func newAgreementRatifyCmd() *cobra.Command {
	var keys, out string
	var version uint64
	cmd := &cobra.Command{
		Use:   "ratify --keys DIR [--version N] [--out FILE]",
		Short: "Ratify a version of the terms with the party's root key",
		Long: `ratify signs the party's ratification of a version of the terms (default the
latest) with its root key: from then on the party is bound by that version.
With --out the ratification is written to FILE for the depositary to merge;
without it, it is added to the agreement file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := agreementPath(cmd)
			a, err := readAgreement(path)
			if err != nil {
				return err
			}
			v := a.Latest()
			if version != 0 {
				if v, err = a.VersionNumber(version); err != nil {
					return coded(err)
				}
			}
			if v == nil {
				return fmt.Errorf("%s has no signed version to ratify", path)
			}
			ks, err := loadSigningKeys(keys)
			if err != nil {
				return err
			}
			if a.Ratified(ks.Party, v.Hash()) {
				return fmt.Errorf("%s has already ratified version %d (%s)", ks.Party, v.Number(), v.Hash())
			}
			note, err := agreement.Ratify(v, ks.Party, now(), ks.Root)
			if err != nil {
				return coded(err)
			}
			if out != "" {
				if err := writeNew(out, note); err != nil {
					return err
				}
			} else {
				b, err := a.With(note)
				if err != nil {
					return coded(err)
				}
				if err := writeAgreement(path, b); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s ratified version %d (%s)\n", ks.Party, v.Number(), v.Hash())
			return nil
		},
	}
	cmd.Flags().StringVar(&keys, "keys", "", "the party's key directory (with its root key)")
	cmd.Flags().Uint64Var(&version, "version", 0, "the version to ratify (default the latest)")
	cmd.Flags().StringVar(&out, "out", "", "write the ratification to this file instead of adding it to the agreement")
	return cmd
}

func newAgreementMergeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "merge FILE...",
		Short: "Add signed entries, ratifications, root statements, versions or other agreement files",
		Long: `merge adds to the agreement file the signed documents in each FILE: a
directory entry, a ratification, a root statement or a version of the terms
as a signed note, or a whole agreement file. Everything is verified; nothing
is ever dropped; two different documents for one place in a chain are
refused (fork), and so is a version or draft that changes a party's root
key (root_changed).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			path := agreementPath(cmd)
			a, err := readAgreement(path)
			if err != nil {
				return err
			}
			for _, f := range files {
				b, err := readFileLimit(f, agreement.MaxSize)
				if err != nil {
					return err
				}
				if isAgreementFile(b) {
					o, err := agreement.Parse(b)
					if err == nil {
						a, err = a.Merge(o)
					}
					if err != nil {
						return fmt.Errorf("%s: %w", f, coded(err))
					}
				} else if a, err = a.With(b); err != nil {
					return fmt.Errorf("%s: %w", f, coded(err))
				}
			}
			if err := writeAgreement(path, a); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %d file(s) into %s\n", len(files), path)
			return nil
		},
	}
}
