package cli

import (
	"fmt"
	"os"

	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementVerifyCmd() *cobra.Command {
	var depositaryKey, keys, at string
	cmd := &cobra.Command{
		Use:   "verify [--depositary-key VKEY] [--keys DIR] [--at TIME]",
		Short: "Check every rule and signature of the agreement",
		Long: `verify parses the agreement file strictly and checks every signature: each
version by the depositary, each ratification by its party's root key, each
directory entry by its party's root key. It fails, with the error's code and
a sentence, on the first problem.

--depositary-key pins the depositary's root key of version 1 (the trust
anchor): a vkey, or the depositary's public.keys file. --keys DIR also checks that the directory lists the keys in DIR as
the party's keys valid at --at (default now): run it before starting a node
with new keys.

Warnings, which do not fail: parties that have not ratified the latest
version, contacts not reconfirmed within the agreement's period, a draft
pending, and a witness policy under which some party can have no neutral
time (the quorum cannot be met on a log once its owner and that party are
excluded, or the quorum is "none").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := agreementPath(cmd)
			b, err := readFileLimit(path, agreement.MaxSize)
			if err != nil {
				return err
			}
			a, err := agreement.Parse(b)
			if err != nil {
				return fmt.Errorf("%s: %w", path, coded(err))
			}
			if err := a.Verify(); err != nil {
				return fmt.Errorf("%s: %w", path, coded(err))
			}
			atT, err := parseTime("at", at, now())
			if err != nil {
				return err
			}
			if depositaryKey != "" {
				if _, err := os.Stat(depositaryKey); err == nil {
					pk, err := readPublicKeys(depositaryKey)
					if err != nil {
						return err
					}
					depositaryKey = pk.Root
				}
				if got := a.Versions()[0].Depositary().Root; got != depositaryKey {
					return fmt.Errorf("%s: version 1 is issued under the depositary key %s, not the one pinned", path, shortKey(got))
				}
			}
			if keys != "" {
				if err := checkOwnKeys(a, keys, atT); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: ok\n", path)
			for _, v := range a.Versions() {
				fmt.Fprintf(w, "version %d %s effective %s, %s\n", v.Number(), v.Hash(), hotline.FormatTime(v.Effective()), ratifiedBy(a, v))
			}
			var es []string
			for _, p := range partiesWithEntries(a) {
				n, _ := a.Entries(p)
				es = append(es, fmt.Sprintf("%s %d", p, len(n)))
			}
			fmt.Fprintf(w, "entries: %s\n", strings.Join(es, ", "))
			var rs []string
			for _, p := range partiesWithEntries(a) {
				if n := len(a.Roots(p)); n > 0 {
					rs = append(rs, fmt.Sprintf("%s %d", p, n))
				}
			}
			if len(rs) > 0 {
				fmt.Fprintf(w, "root statements: %s\n", strings.Join(rs, ", "))
			}
			if keys != "" {
				fmt.Fprintf(w, "the keys in %s are the ones the directory lists as valid at %s\n", keys, hotline.FormatTime(atT))
			}
			for _, warn := range warnings(a, atT) {
				fmt.Fprintf(w, "warning: %s\n", warn)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&depositaryKey, "depositary-key", "", "the depositary's root key (a vkey or its public.keys file) that version 1 must be issued under")
	cmd.Flags().StringVar(&keys, "keys", "", "also check that the directory lists the keys in this directory as valid at --at")
	cmd.Flags().StringVar(&at, "at", "", "the time for --keys and the contact reconfirmation check (default now)")
	return cmd
}

// ratifiedBy says which parties (not the depositary) ratified v.
func ratifiedBy(a *agreement.Agreement, v *agreement.Version) string {
	var yes []string
	n := 0
	for _, p := range v.Parties() {
		if p.Kind == agreement.KindDepositary {
			continue
		}
		n++
		if a.Ratified(p.ID, v.Hash()) {
			yes = append(yes, p.ID)
		}
	}
	if len(yes) == 0 {
		return fmt.Sprintf("ratified by none of %d", n)
	}
	return fmt.Sprintf("ratified by %s (%d of %d)", strings.Join(yes, ", "), len(yes), n)
}

// partiesWithEntries returns the parties that have entries: those of every
// version and of the draft, sorted.
func partiesWithEntries(a *agreement.Agreement) []string {
	var ids []string
	add := func(ps []agreement.Party) {
		for _, p := range ps {
			if _, err := a.Entries(p.ID); err == nil && !slices.Contains(ids, p.ID) {
				ids = append(ids, p.ID)
			}
		}
	}
	for _, v := range a.Versions() {
		add(v.Parties())
	}
	if d, ok := a.Draft(); ok {
		add(d.Parties)
	}
	slices.Sort(ids)
	return ids
}

func warnings(a *agreement.Agreement, at time.Time) []string {
	var out []string
	l := a.Latest()
	for _, p := range l.Parties() {
		if !a.Ratified(p.ID, l.Hash()) {
			out = append(out, fmt.Sprintf("%s has not ratified version %d", p.ID, l.Number()))
		}
		if _, err := a.Entry(p.ID); err != nil {
			out = append(out, fmt.Sprintf("%s has no directory entry", p.ID))
		}
		cs, _ := a.Contacts(p.ID)
		for _, c := range cs {
			if c.Stale(l.Reconfirmation(), at) {
				out = append(out, fmt.Sprintf("contact %s/%s was last reconfirmed %s, more than %s before %s",
					p.ID, c.ID, hotline.FormatTime(c.Reconfirmed), agreement.Duration(l.Reconfirmation()), hotline.FormatTime(at)))
			}
		}
	}
	if d, ok := a.Draft(); ok {
		out = append(out, fmt.Sprintf("a draft of version %d is pending (not signed)", d.Version))
	}
	return append(out, neutralWarnings(l)...)
}

// neutralWarnings warns when the witness policy of v cannot give a party a
// neutral time (DESIGN.md §11): the quorum must be met on a log without
// its owner and without the other party concerned.
func neutralWarnings(v *agreement.Version) []string {
	pol := v.Policy()
	if pol == nil {
		return nil
	}
	if pol.None() {
		return []string{fmt.Sprintf("the witness policy of version %d is \"quorum none\": checkpoints are believed on their log's signature alone, and no neutral time exists for any party", v.Number())}
	}
	var pairs []string
	parties := v.Parties()
	for _, o := range parties {
		for _, p := range parties {
			if p.ID != o.ID && !pol.Neutral(o.ID, p.ID) {
				pairs = append(pairs, p.ID+" on "+o.ID+"'s log")
			}
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	const show = 10
	more := ""
	if len(pairs) > show {
		more = fmt.Sprintf(" and %d more", len(pairs)-show)
		pairs = pairs[:show]
	}
	return []string{fmt.Sprintf("the witness policy of version %d leaves fewer witnesses than the quorum once a log's owner and one other party are excluded: neutral time is impossible for %s%s",
		v.Number(), strings.Join(pairs, ", "), more)}
}

// checkOwnKeys checks that the directory lists the keys in dir as the
// party's keys valid at t.
func checkOwnKeys(a *agreement.Agreement, dir string, t time.Time) error {
	ks, err := hotline.LoadKeySet(dir)
	if err != nil {
		return err
	}
	pub := ks.Public()
	for _, c := range []struct {
		role hotline.KeyRole
		key  string
	}{
		{hotline.RoleMessage, pub.Message},
		{hotline.RoleEncryption, pub.Encryption},
		{hotline.RoleCheckpoint, pub.Checkpoint},
		{hotline.RoleWitness, pub.Witness},
	} {
		k, err := a.Key(ks.Party, c.role, t)
		if err != nil {
			return coded(err)
		}
		if k.Key != c.key {
			return fmt.Errorf("key_mismatch: the directory lists %s as %s's %s key valid at %s, not %s from %s",
				shortKey(k.Key), ks.Party, c.role, hotline.FormatTime(t), shortKey(c.key), dir)
		}
	}
	if ks.Root != nil {
		root, _, err := a.Root(ks.Party)
		if err != nil {
			return coded(err)
		}
		if root != pub.Root {
			return fmt.Errorf("key_mismatch: the agreement has %s as %s's root key, not %s from %s", shortKey(root), ks.Party, shortKey(pub.Root), dir)
		}
	}
	return nil
}
