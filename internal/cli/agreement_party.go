package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementAddPartyCmd() *cobra.Command {
	var entryFile, pubFile, root, id, name, kind string
	var witness, relay bool
	var groups []string
	cmd := &cobra.Command{
		Use:   "add-party --entry FILE --public-keys FILE --name NAME [--kind state|organization]",
		Short: "Add a party to the draft of the next version, by the depositary",
		Long: `add-party adds a party to the draft of the next version of the terms (starting
one from the latest version if there is no draft) and merges its directory
entry, which the party signed with its own root key ("hotline agreement
sign-entry --out FILE"). The party's root key comes from its public.keys
(--public-keys) or --root; obtain it from the party over a channel you trust:
it is what the depositary attests.

--witness makes the party a witness (the quorum becomes a majority of the
other witnesses unless it was customised; "sign --quorum" sets it), --relay a
relay, and --group NAME a member of the closed group NAME, created if needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if entryFile == "" || name == "" || (pubFile == "") == (root == "") {
				return usageError{fmt.Errorf("--entry, --name and one of --public-keys or --root are required")}
			}
			path := agreementPath(cmd)
			a, err := readAgreement(path)
			if err != nil {
				return err
			}
			var next hotline.ID
			if pubFile != "" {
				pk, err := readPublicKeys(pubFile)
				if err != nil {
					return err
				}
				if pk.Root == "" {
					return fmt.Errorf("%s lists no root key", pubFile)
				}
				root = pk.Root
				if pk.NextRoot != "" {
					if next, err = hotline.ParseID(pk.NextRoot); err != nil {
						return fmt.Errorf("%s: next_root: %w", pubFile, err)
					}
				}
			}
			note, err := readFileLimit(entryFile, 1<<20)
			if err != nil {
				return err
			}
			e, err := agreement.OpenEntry(note, root)
			if err != nil {
				return fmt.Errorf("%s: %w", entryFile, coded(err))
			}
			if id != "" && id != e.Party {
				return fmt.Errorf("%s is an entry of %s, not %s", entryFile, e.Party, id)
			}
			d, err := a.NextDraft()
			if err != nil {
				return coded(err)
			}
			for _, p := range d.Parties {
				if p.ID == e.Party {
					return fmt.Errorf("%s is already a party of the draft of version %d", e.Party, d.Version)
				}
			}
			d.Parties = append(d.Parties, agreement.Party{ID: e.Party, Name: name, Kind: agreement.PartyKind(kind), Root: root, NextRoot: next})
			w := cmd.OutOrStdout()
			if witness {
				if !slices.Contains(d.Witnesses.Parties, e.Party) {
					d.Witnesses.Parties = append(d.Witnesses.Parties, e.Party)
				}
				old, err := agreement.ParsePolicy(d.Witnesses.Policy, d.Witnesses.Parties[:len(d.Witnesses.Parties)-1])
				if err == nil && old.Threshold() < 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: the witness policy is custom; %s does not count toward it until you change it (sign --policy)\n", e.Party)
				} else {
					d.Witnesses.Policy = agreement.DefaultPolicy(d.Witnesses.Parties, agreement.DefaultThreshold(len(d.Witnesses.Parties)))
				}
			}
			if relay && !slices.Contains(d.Relays, e.Party) {
				d.Relays = append(d.Relays, e.Party)
			}
			for _, g := range groups {
				i := slices.IndexFunc(d.Groups, func(x agreement.Group) bool { return x.ID == g })
				switch {
				case i < 0:
					d.Groups = append(d.Groups, agreement.Group{ID: g, Kind: agreement.GroupClosed, Members: []string{e.Party}})
				case d.Groups[i].Kind == agreement.GroupOpen:
					return fmt.Errorf("group %s is open: every party is a member", g)
				default:
					d.Groups[i].Members = append(d.Groups[i].Members, e.Party)
				}
			}
			b, err := a.WithDraft(d)
			if err != nil {
				return coded(err)
			}
			if b, err = b.With(note); err != nil {
				return coded(err)
			}
			if err := writeAgreement(path, b); err != nil {
				return err
			}
			fmt.Fprintf(w, "added %s (%s, %s) to the draft of version %d, with its entry %d\n", e.Party, name, kind, d.Version, e.Sequence)
			return nil
		},
	}
	cmd.Flags().StringVar(&entryFile, "entry", "", "the party's signed directory entry")
	cmd.Flags().StringVar(&pubFile, "public-keys", "", "the party's public.keys, for its root key")
	cmd.Flags().StringVar(&root, "root", "", "the party's root key as a vkey, instead of --public-keys")
	cmd.Flags().StringVar(&id, "id", "", "the party id the entry must have")
	cmd.Flags().StringVar(&name, "name", "", "the party's name")
	cmd.Flags().StringVar(&kind, "kind", string(agreement.KindState), "state or organization")
	cmd.Flags().BoolVar(&witness, "witness", false, "the party witnesses the other parties' logs")
	cmd.Flags().BoolVar(&relay, "relay", false, "the party's node relays")
	cmd.Flags().StringArrayVar(&groups, "group", nil, "add the party to this closed group (repeatable)")
	return cmd
}
