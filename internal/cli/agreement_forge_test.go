package cli

import (
	"encoding/json"
	"os"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// forge writes what an attacker would hand a node: a copy of an agreement
// file in which party's root key is replaced by the one in the attacker's
// key directory, bypassing every check the commands make (issue 14).
//
//	forge draft IN PARTY ATTACKER OUT       an unsigned draft giving PARTY the attacker's
//	                                        root, and PARTY's next entry signed by it,
//	                                        revoking PARTY's keys back to their start
//	forge terms IN PARTY ATTACKER DEP OUT   the next version, signed by the depositary's
//	                                        root key in DEP alone, giving PARTY the
//	                                        attacker's root, and that entry
func forge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 5 || (args[0] == "terms") != (len(args) == 6) {
		ts.Fatalf("usage: forge draft IN PARTY ATTACKER OUT | forge terms IN PARTY ATTACKER DEP OUT")
	}
	a, err := agreement.Parse([]byte(ts.ReadFile(args[1])))
	ts.Check(err)
	party := args[2]
	attacker, err := hotline.LoadKeySet(ts.MkAbs(args[3]))
	ts.Check(err)
	prev, err := a.Entry(party)
	ts.Check(err)
	at := prev.Issued.Add(time.Minute)
	d, err := a.NextDraft()
	ts.Check(err)
	for i := range d.Parties {
		if d.Parties[i].ID == party {
			d.Parties[i].Root, d.Parties[i].NextRoot = attacker.Root.VerifierKey(), hotline.ID{}
		}
	}
	e, err := agreement.NextEntry(prev, agreement.EntryUpdate{
		Keys: attacker.Public(), Issued: at,
		Revoke:    []hotline.KeyRole{hotline.RoleMessage, hotline.RoleEncryption, hotline.RoleCheckpoint, hotline.RoleWitness},
		RevokedAt: prev.Issued,
	})
	ts.Check(err)
	entry, err := agreement.SignEntry(e, attacker.Root)
	ts.Check(err)
	var m map[string]any
	ts.Check(json.Unmarshal(a.Marshal(), &m))
	m["entries"] = append(m["entries"].([]any), string(entry))
	out := args[4]
	if args[0] == "terms" {
		dep, err := hotline.LoadKeySet(ts.MkAbs(args[4]))
		ts.Check(err)
		d.Issued, d.Effective = at, at
		v, err := agreement.SignTerms(d, dep.Root)
		ts.Check(err)
		m["terms"] = append(m["terms"].([]any), string(v))
		out = args[5]
	} else {
		b, err := json.Marshal(d)
		ts.Check(err)
		var dj any
		ts.Check(json.Unmarshal(b, &dj))
		m["draft"] = dj
	}
	b, err := json.MarshalIndent(m, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(out), b, 0o644))
}
