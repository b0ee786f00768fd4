package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

func newAgreementShowCmd() *cobra.Command {
	var asJSON bool
	var party, at string
	var version uint64
	cmd := &cobra.Command{
		Use:   "show [--version N] [--party ID [--at TIME]] [--json]",
		Short: "Show the agreement: a version's terms and the parties' directory entries",
		Long: `show prints a version of the terms (default the latest) and every party's
latest directory entry: keys with their validity, endpoints, log origin and
contacts. --party shows one party's entry, marking the keys valid at --at
(default now). --json prints the same as JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := agreementPath(cmd)
			a, err := readAgreement(path)
			if err != nil {
				return err
			}
			atT, err := parseTime("at", at, now())
			if err != nil {
				return err
			}
			v := a.Latest()
			if version != 0 {
				if v, err = a.VersionNumber(version); err != nil {
					return coded(err)
				}
			}
			w := cmd.OutOrStdout()
			if party != "" {
				es, err := a.Entries(party)
				if err != nil {
					return coded(err)
				}
				e := es[len(es)-1]
				if asJSON {
					return outputJSON(w, partyView(e, atT))
				}
				showEntry(w, e, atT)
				return nil
			}
			if asJSON {
				return outputJSON(w, agreementView(a, v))
			}
			if v == nil {
				d, _ := a.Draft()
				fmt.Fprintf(w, "no signed version yet; draft of version %d:\n", d.Version)
				showTerms(w, a, d, nil)
			} else {
				fmt.Fprintf(w, "version %d of %d: %s\n", v.Number(), len(a.Versions()), v.Hash())
				showTerms(w, a, v.Terms(), v)
			}
			for _, p := range partiesWithEntries(a) {
				es, _ := a.Entries(p)
				fmt.Fprintln(w)
				showEntry(w, es[len(es)-1], atT)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&party, "party", "", "show only this party's directory entry")
	cmd.Flags().StringVar(&at, "at", "", "with --party: mark the keys valid at this time (default now)")
	cmd.Flags().Uint64Var(&version, "version", 0, "the version to show (default the latest)")
	return cmd
}

func showTerms(w io.Writer, a *agreement.Agreement, t *agreement.Terms, v *agreement.Version) {
	if !t.Issued.IsZero() {
		fmt.Fprintf(w, "issued %s, effective %s, depositary %s\n", hotline.FormatTime(t.Issued), hotline.FormatTime(t.Effective), t.Depositary)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "parties:")
	for _, p := range t.Parties {
		status := ""
		switch {
		case p.Kind == agreement.KindDepositary:
			status = "depositary"
		case v != nil && a.Ratified(p.ID, v.Hash()):
			status = "ratified"
		case v != nil:
			status = "not ratified"
		}
		// The root the party's own statements established, if any, rather
		// than the one this version repeats.
		root := p.Root
		if r, _, err := a.Root(p.ID); err == nil {
			root = r
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.ID, p.Kind, p.Name, shortKey(root), status)
	}
	tw.Flush()
	if len(t.Groups) > 0 {
		fmt.Fprintln(tw, "groups:")
		for _, g := range t.Groups {
			members := strings.Join(g.Members, " ")
			if g.Kind == agreement.GroupOpen {
				members = "every party"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", g.ID, g.Kind, members)
		}
		tw.Flush()
	}
	fmt.Fprintln(tw, "kinds:")
	for _, k := range t.Kinds {
		var obs []string
		for _, o := range k.Obligations {
			obs = append(obs, fmt.Sprintf("%s (by %s) within %s", o.Type, strings.Join(o.MetBy, "/"), deadlines(o.Deadlines)))
		}
		if k.RequiresRef {
			obs = append(obs, "refers to a message")
		}
		if len(obs) == 0 {
			obs = []string{"obliges nothing"}
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k.Name, strings.Join(obs, "; "))
	}
	tw.Flush()
	witnesses := "none"
	if len(t.Witnesses.Parties) > 0 {
		witnesses = strings.Join(t.Witnesses.Parties, " ")
	}
	fmt.Fprintf(w, "witnesses: %s\n", witnesses)
	fmt.Fprintf(w, "witness quorum: %s\n", describePolicy(t.Witnesses.Policy))
	relays := "none"
	if len(t.Relays) > 0 {
		relays = strings.Join(t.Relays, " ")
	}
	fmt.Fprintf(w, "relays: %s\n", relays)
	fmt.Fprintf(w, "grace for unreceipted messages: %s; contacts reconfirmed every %s\n", t.Grace, t.Reconfirmation)
}

// deadlines writes per-severity deadlines, collapsing equal ones.
func deadlines(d agreement.Deadlines) string {
	if d.Low == d.Medium && d.Medium == d.High && d.High == d.Critical {
		return d.Low.String()
	}
	var parts []string
	for _, s := range hotline.Severities {
		parts = append(parts, fmt.Sprintf("%s %s", s, agreement.Duration(d.For(s))))
	}
	return strings.Join(parts, ", ")
}

func showEntry(w io.Writer, e *agreement.SignedEntry, at time.Time) {
	fmt.Fprintf(w, "%s entry %d (%s), issued %s\n", e.Party, e.Sequence, e.Hash, hotline.FormatTime(e.Issued))
	fmt.Fprintf(w, "log origin: %s\n", e.LogOrigin)
	fmt.Fprintf(w, "endpoints: %s\n", strings.Join(e.Endpoints, " "))
	fmt.Fprintf(w, "keys (valid at %s marked):\n", hotline.FormatTime(at))
	printKeys(w, e.Keys, at)
	fmt.Fprintln(w, "contacts:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range e.Contacts {
		reach := strings.TrimSpace(c.Email + " " + c.Phone)
		alt := ""
		if c.AlternateOf != "" {
			alt = " (alternate of " + c.AlternateOf + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\t%s\t%s\t%s %s\treconfirmed %s\n", c.ID, c.Role, c.Name, alt, reach,
			strings.Join(c.Languages, ","), c.Hours, c.TimeZone, hotline.FormatTime(c.Reconfirmed))
	}
	tw.Flush()
}

// versionView is a version as "show --json" prints it.
type versionView struct {
	Number     uint64           `json:"number"`
	Hash       hotline.ID       `json:"hash"`
	RatifiedBy []string         `json:"ratified_by"`
	Terms      *agreement.Terms `json:"terms"`
}

type entryView struct {
	Sequence uint64          `json:"sequence"`
	Hash     hotline.ID      `json:"hash"`
	Entry    agreement.Entry `json:"entry"`
}

type agreementViewJSON struct {
	Versions []versionView        `json:"versions"`
	Shown    uint64               `json:"shown,omitempty"`
	Entries  map[string]entryView `json:"entries"`
	Draft    *agreement.Terms     `json:"draft,omitempty"`
}

func agreementView(a *agreement.Agreement, shown *agreement.Version) agreementViewJSON {
	out := agreementViewJSON{Entries: map[string]entryView{}, Versions: []versionView{}}
	for _, v := range a.Versions() {
		vv := versionView{Number: v.Number(), Hash: v.Hash(), Terms: v.Terms(), RatifiedBy: []string{}}
		for _, r := range a.Ratifications(v.Hash()) {
			vv.RatifiedBy = append(vv.RatifiedBy, r.Party)
		}
		out.Versions = append(out.Versions, vv)
	}
	if shown != nil {
		out.Shown = shown.Number()
	}
	for _, p := range partiesWithEntries(a) {
		es, _ := a.Entries(p)
		e := es[len(es)-1]
		out.Entries[p] = entryView{Sequence: e.Sequence, Hash: e.Hash, Entry: e.Entry}
	}
	if d, ok := a.Draft(); ok {
		out.Draft = d
	}
	return out
}

type partyViewJSON struct {
	Party   string                     `json:"party"`
	At      time.Time                  `json:"at"`
	ValidAt map[hotline.KeyRole]string `json:"valid_at"`
	entryView
}

func partyView(e *agreement.SignedEntry, at time.Time) partyViewJSON {
	out := partyViewJSON{Party: e.Party, At: at, ValidAt: map[hotline.KeyRole]string{}, entryView: entryView{Sequence: e.Sequence, Hash: e.Hash, Entry: e.Entry}}
	for _, k := range e.Keys {
		if k.ValidAt(at) {
			out.ValidAt[k.Role] = k.Key
		}
	}
	return out
}

// describePolicy writes the group and quorum lines of a witness policy
// (C2SP tlog-policy) as a sentence: "cosignatures of 2 of DEP, BER, CRI and
// DOR (a log's owner does not count toward its own quorum)".
func describePolicy(lines []string) string {
	groups := map[string]string{}
	name := func(n string) string {
		if d, ok := groups[n]; ok {
			return "(" + d + ")"
		}
		return n
	}
	quorum := ""
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "group":
			var members []string
			for _, m := range f[3:] {
				members = append(members, name(m))
			}
			groups[f[1]] = f[2] + " of " + joinAnd(members) // k, "all" or "any"
		case len(f) == 2 && f[0] == "quorum":
			quorum = f[1]
		}
	}
	switch {
	case quorum == "":
		return "unreadable policy: " + strings.Join(lines, " / ")
	case quorum == "none":
		return "none: checkpoints need no cosignature"
	}
	if d, ok := groups[quorum]; ok {
		return "cosignatures of " + d + " (a log's owner does not count toward its own quorum)"
	}
	return "the cosignature of " + quorum
}

// joinAnd writes "A", "A and B", "A, B and C".
func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return "nobody"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}
