package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementNewCmd() *cobra.Command {
	var keys, name, termsFile, at string
	var endpoints []string
	var witness, noRelay bool
	var cf contactFlags
	cmd := &cobra.Command{
		Use:   "new --keys DIR --name NAME --endpoint URL --contact SPEC",
		Short: "Start an agreement: the draft of version 1, by the depositary",
		Long: `new writes a new agreement file holding the draft of version 1 of the treaty
terms and the depositary's own directory entry, signed with its root key.

The terms start from the sample agreement (docs/DESIGN.md §3: fourteen message kinds
with their default deadlines, an open group "all", a grace of 6 hours,
contacts reconfirmed every 90 days), or from the groups, kinds and periods of
--terms FILE (a JSON object of treaty terms, agreement/FORMAT.md). The
depositary is a relay unless --no-relay, and a witness with --witness.

Parties then join with "hotline agreement add-party", and "hotline agreement
sign" issues the version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := agreementPath(cmd)
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists; refusing to overwrite an agreement", path)
			}
			if name == "" || len(endpoints) == 0 {
				return usageError{fmt.Errorf("--name and --endpoint are required")}
			}
			ks, err := loadSigningKeys(keys)
			if err != nil {
				return err
			}
			d := agreement.SampleTerms()
			if termsFile != "" {
				if d, err = readTermsTemplate(termsFile); err != nil {
					return err
				}
			}
			d.Version = 1
			d.Depositary = ks.Party
			d.Parties = []agreement.Party{{ID: ks.Party, Name: name, Kind: agreement.KindDepositary, Root: ks.Root.VerifierKey()}}
			if ks.NextRoot != nil {
				d.Parties[0].NextRoot = agreement.RootCommitment(ks.NextRoot.VerifierKey())
			}
			d.Witnesses = agreement.Witnesses{Policy: agreement.DefaultPolicy(nil, 0)}
			if witness {
				d.Witnesses.Parties = []string{ks.Party}
			}
			d.Relays = nil
			if !noRelay {
				d.Relays = []string{ks.Party}
			}
			contacts, err := cf.contacts()
			if err != nil {
				return err
			}
			if len(contacts) == 0 {
				return usageError{fmt.Errorf("the depositary's entry needs a point of contact: --contact or --contacts")}
			}
			issued, err := parseTime("at", at, now())
			if err != nil {
				return err
			}
			a, err := agreement.New(d)
			if err != nil {
				return coded(err)
			}
			e, err := agreement.NextEntry(nil, agreement.EntryUpdate{Keys: ks.Public(), Issued: issued, Endpoints: endpoints, Contacts: contacts, Protocols: hotline.Protocols})
			if err != nil {
				return coded(err)
			}
			note, err := agreement.SignEntry(e, ks.Root)
			if err != nil {
				return coded(err)
			}
			if a, err = a.With(note); err != nil {
				return coded(err)
			}
			if err := writeNew(path, a.Marshal()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s: draft of version 1, depositary %s (%s), %d message kinds\n", path, ks.Party, name, len(d.Kinds))
			fmt.Fprintf(cmd.OutOrStdout(), "next: each party signs its entry (hotline agreement sign-entry --out FILE), then add-party, then sign\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&keys, "keys", "", "the depositary's key directory (with its root key)")
	cmd.Flags().StringVar(&name, "name", "", "the depositary's name")
	cmd.Flags().StringArrayVar(&endpoints, "endpoint", nil, "a base URL of the depositary's node (repeatable, in order of preference)")
	cmd.Flags().StringVar(&termsFile, "terms", "", "take groups, kinds, grace and contact reconfirmation from this JSON file instead of the sample")
	cmd.Flags().BoolVar(&witness, "witness", false, "the depositary witnesses the parties' logs")
	cmd.Flags().BoolVar(&noRelay, "no-relay", false, "the depositary's node does not relay")
	cmd.Flags().StringVar(&at, "at", "", "when the depositary's entry is issued (default now)")
	cf.register(cmd)
	return cmd
}

// readTermsTemplate reads treaty terms from a JSON file, keeping what a
// template may set: groups, kinds, grace and contact reconfirmation.
func readTermsTemplate(path string) (*agreement.Terms, error) {
	b, err := readFileLimit(path, 1<<20)
	if err != nil {
		return nil, err
	}
	var t agreement.Terms
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &agreement.Terms{Groups: t.Groups, Kinds: t.Kinds, Grace: t.Grace, Reconfirmation: t.Reconfirmation}, nil
}
