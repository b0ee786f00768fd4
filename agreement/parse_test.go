package agreement

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hotline-net/hotline"
)

// mutBundle returns the bytes of n's agreement file after f changed it.
func mutBundle(tb testing.TB, n *testNet, f func(bj *bundleJSON)) []byte {
	tb.Helper()
	bj := n.a.bundle()
	f(bj)
	b, err := marshalIndent(bj)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mutTerms returns version 1's terms after f changed them, signed by the
// depositary without any check.
func mutTerms(tb testing.TB, n *testNet, f func(t *Terms)) string {
	tb.Helper()
	t := n.a.Latest().Terms()
	f(t)
	return string(signRaw(tb, mustText(tb, TermsTag, t), n.keys["DEP"].Root))
}

// mutTermsText is mutTerms for changes to the JSON text itself.
func mutTermsText(tb testing.TB, n *testNet, f func(text string) string) string {
	tb.Helper()
	text := f(string(mustText(tb, TermsTag, n.a.Latest().Terms())))
	return string(signRaw(tb, []byte(text), n.keys["DEP"].Root))
}

// mutEntry returns party's entry 1 after f changed it, signed by the
// party's root key without any check.
func mutEntry(tb testing.TB, n *testNet, party string, f func(e *Entry)) string {
	tb.Helper()
	e, err := n.a.Entry(party)
	if err != nil {
		tb.Fatal(err)
	}
	f(&e.Entry)
	return string(signRaw(tb, mustText(tb, EntryTag, &e.Entry), n.keys[party].Root))
}

// entryIndex returns the index in the file's entries of party's entry 1.
func entryIndex(tb testing.TB, bj *bundleJSON, party string) int {
	tb.Helper()
	for i, s := range bj.Entries {
		if strings.Contains(s, `"party": "`+party+`"`) {
			return i
		}
	}
	tb.Fatalf("no entry of %s", party)
	return -1
}

func TestParseErrors(t *testing.T) {
	n := newTestNet(t)
	good := n.a.Marshal()
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	fakeXYZ := mustKeys(t, "XYZ")
	hour := time.Hour

	tests := []struct {
		name  string
		input func() []byte
		code  string
	}{
		// The file itself.
		{"unknown field in the file", func() []byte {
			return bytes.Replace(good, []byte(`"format"`), []byte(`"extra": 1, "format"`), 1)
		}, "unknown_field"},
		{"member name in another case", func() []byte {
			return bytes.Replace(good, []byte(`"format"`), []byte(`"Format"`), 1)
		}, "unknown_field"},
		{"member named twice", func() []byte {
			return bytes.Replace(good, []byte(`"format": "hotline-agreement/v1"`), []byte(`"format": "hotline-agreement/v1", "format": "hotline-agreement/v1"`), 1)
		}, "duplicate_key"},
		{"null", func() []byte {
			return bytes.Replace(good, []byte(`"format"`), []byte(`"draft": null, "format"`), 1)
		}, "invalid_value"},
		{"data after the object", func() []byte { return append(append([]byte{}, good...), "{}"...) }, "malformed"},
		{"not JSON", func() []byte { return []byte("hotline-terms/v1\n") }, "malformed"},
		{"invalid UTF-8", func() []byte { return append([]byte(`{"format": "`), 0xff, '"', '}') }, "malformed"},
		{"wrong format", func() []byte {
			return bytes.Replace(good, []byte(`hotline-agreement/v1`), []byte(`hotline-agreement/v2`), 1)
		}, "malformed"},
		{"too large", func() []byte { return make([]byte, MaxSize+1) }, "too_large"},
		{"too deep", func() []byte {
			return []byte(`{"format": "hotline-agreement/v1", "terms": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`)
		}, "too_large"},
		{"a note that is not one", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) { bj.Terms[0] = "hotline-terms/v1\n{}\n" })
		}, "malformed"},
		{"a note with another tag", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) { bj.Terms[0] = bj.Entries[0] })
		}, "malformed"},

		// Treaty terms.
		{"unknown field in the terms", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTermsText(t, n, func(s string) string { return strings.Replace(s, "{\n", "{\n  \"secret_annex\": true,\n", 1) })
			})
		}, "unknown_field"},
		{"terms not in canonical form", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTermsText(t, n, func(s string) string { return strings.Replace(s, "\"version\": 1", "\"version\":  1", 1) })
			})
		}, "not_canonical"},
		{"duration not in its largest unit", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTermsText(t, n, func(s string) string { return strings.Replace(s, `"grace": "6h"`, `"grace": "360m"`, 1) })
			})
		}, "not_canonical"},
		{"duplicate party id", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) {
					p := tm.Parties[1]
					p.Root = fakeXYZ.Root.VerifierKey()
					tm.Parties = append(tm.Parties, p)
				})
			})
		}, "duplicate_id"},
		{"duplicate group id", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Groups = append(tm.Groups, Group{ID: "all", Kind: GroupOpen}) })
			})
		}, "duplicate_id"},
		{"duplicate kind", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Kinds = append(tm.Kinds, Kind{Name: "ping"}) })
			})
		}, "duplicate_id"},
		{"duplicate group member", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) {
					tm.Groups = append(tm.Groups, Group{ID: "pair", Kind: GroupClosed, Members: []string{"BER", "BER"}})
				})
			})
		}, "duplicate_id"},
		{"group naming an unknown party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) {
					tm.Groups = append(tm.Groups, Group{ID: "pair", Kind: GroupClosed, Members: []string{"BER", "ATL"}})
				})
			})
		}, "unknown_party"},
		{"witness naming an unknown party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Witnesses.Parties = append(tm.Witnesses.Parties, "ATL") })
			})
		}, "unknown_party"},
		{"relay naming an unknown party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Relays = []string{"ATL"} })
			})
		}, "unknown_party"},
		{"depositary not a party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Depositary = "ATL" })
			})
		}, "unknown_party"},
		{"zero deadline", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Kinds[0].Obligations[0].Deadlines.High = 0 })
			})
		}, "zero_deadline"},
		{"absent deadline", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTermsText(t, n, func(s string) string {
					return strings.Replace(s, "\"high\": \"1d\",\n            \"critical\": \"2h\"", "\"high\": \"1d\"", 1)
				})
			})
		}, "zero_deadline"},
		{"obligation met by an unknown kind", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Kinds[0].Obligations[0].MetBy = []string{"shrug"} })
			})
		}, "unknown_kind"},
		{"unknown obligation type", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Kinds[0].Obligations[0].Type = "apologise" })
			})
		}, "invalid_value"},
		{"quorum naming an unknown witness", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Witnesses.Policy = []string{"quorum ATL"} })
			})
		}, "bad_policy"},
		{"quorum a log owner cannot meet", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) {
					tm.Witnesses.Policy = DefaultPolicy(tm.Witnesses.Parties, len(tm.Witnesses.Parties))
				})
			})
		}, "bad_policy"},
		{"bad party id", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Parties[1].ID = "ber" })
			})
		}, "invalid_value"},
		{"root key named for another party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Parties[1].Root = fakeXYZ.Root.VerifierKey() })
			})
		}, "bad_key"},
		{"time not in UTC", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Issued = tm.Issued.In(time.FixedZone("CET", 3600)) })
			})
		}, "invalid_value"},
		{"version 1 missing", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms[0] = mutTerms(t, n, func(tm *Terms) { tm.Version, tm.Previous = 2, hotline.ID{1} })
				bj.Ratifications = nil
			})
		}, "bad_chain"},
		{"two versions 1", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms = append(bj.Terms, mutTerms(t, n, func(tm *Terms) { tm.Grace = Duration(time.Hour) }))
			})
		}, "fork"},
		{"the same version twice", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) { bj.Terms = append(bj.Terms, bj.Terms[0]) })
		}, "duplicate_id"},
		{"version 2 naming the wrong previous", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Terms = append(bj.Terms, mutTerms(t, n, func(tm *Terms) { tm.Version, tm.Previous = 2, hotline.ID{1} }))
			})
		}, "bad_chain"},

		// Directory entries.
		{"unknown field in an entry", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				e, _ := n.a.Entry("BER")
				text := strings.Replace(string(mustText(t, EntryTag, &e.Entry)), "{\n", "{\n  \"pager\": \"+15555550100\",\n", 1)
				bj.Entries[entryIndex(t, bj, "BER")] = string(signRaw(t, []byte(text), n.keys["BER"].Root))
			})
		}, "unknown_field"},
		{"overlapping key validity", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					e.Keys = append(e.Keys, Key{Role: hotline.RoleMessage, Key: mustKeys(t, "BER").Message.VerifierKey(), ValidFrom: t0.Add(hour)})
				})
			})
		}, "key_overlap"},
		{"key validity that leaves no valid key", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					for i := range e.Keys {
						if e.Keys[i].Role == hotline.RoleMessage {
							e.Keys[i].ValidUntil = t0.Add(hour)
						}
					}
				})
			})
		}, "no_valid_key"},
		{"revocation that leaves no valid key", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					for i := range e.Keys {
						if e.Keys[i].Role == hotline.RoleEncryption {
							e.Keys[i].Revoked = t0.Add(hour)
						}
					}
				})
			})
		}, "no_valid_key"},
		{"rotation with a gap", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					for i := range e.Keys {
						if e.Keys[i].Role == hotline.RoleCheckpoint {
							e.Keys[i].ValidUntil = t0.Add(hour)
						}
					}
					k, _ := hotline.GenerateSigningKey("hotline/BER", false)
					e.Keys = append(e.Keys, Key{Role: hotline.RoleCheckpoint, Key: k.VerifierKey(), ValidFrom: t0.Add(2 * hour)})
				})
			})
		}, "no_valid_key"},
		{"duplicate contact id", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) { e.Contacts[1].ID = e.Contacts[0].ID })
			})
		}, "duplicate_id"},
		{"the same key twice", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					k := e.Keys[0]
					k.ValidFrom = k.ValidFrom.Add(-hour)
					k.ValidUntil = t0
					e.Keys = append(e.Keys, k)
				})
			})
		}, "duplicate_id"},
		{"message key named for another party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					e.Keys[0].Key = n.keys["CRI"].Message.VerifierKey()
				})
			})
		}, "bad_key"},
		{"witness key of the wrong algorithm", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					k, _ := hotline.GenerateSigningKey("BER/witness", false)
					for i := range e.Keys {
						if e.Keys[i].Role == hotline.RoleWitness {
							e.Keys[i].Key = k.VerifierKey()
						}
					}
				})
			})
		}, "bad_key"},
		{"root key in an entry", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) {
					e.Keys = append(e.Keys, Key{Role: hotline.RoleRoot, Key: n.keys["BER"].Root.VerifierKey(), ValidFrom: t0})
				})
			})
		}, "bad_key"},
		{"no contacts", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) { e.Contacts = []Contact{} })
			})
		}, "missing_field"},
		{"bad endpoint", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) { e.Endpoints = []string{"ftp://ber.example/"} })
			})
		}, "invalid_value"},
		{"bad contact hours", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) { e.Contacts[0].Hours = "always" })
			})
		}, "invalid_value"},
		{"entry of an unknown party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				e, _ := NextEntry(nil, EntryUpdate{Keys: fakeXYZ.Public(), Issued: t0, Endpoints: []string{"https://xyz.example/"}, Contacts: SampleContacts("XYZ", t0)})
				bj.Entries = append(bj.Entries, string(signRaw(t, mustText(t, EntryTag, e), fakeXYZ.Root)))
			})
		}, "unknown_party"},
		{"entry 1 missing", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries[entryIndex(t, bj, "BER")] = mutEntry(t, n, "BER", func(e *Entry) { e.Sequence, e.Previous = 2, hotline.ID{1} })
			})
		}, "bad_chain"},
		{"two entries 1 of one party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				bj.Entries = append(bj.Entries, mutEntry(t, n, "BER", func(e *Entry) { e.Endpoints = []string{"https://elsewhere.example/"} }))
			})
		}, "fork"},
		{"entry 2 dropping a key", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				prev, _ := n.a.Entry("BER")
				e := prev.Entry
				e.Sequence, e.Previous, e.Issued = 2, prev.Hash, t0.Add(hour)
				e.Keys = append([]Key{}, e.Keys[:len(e.Keys)-1]...) // the witness key
				bj.Entries = append(bj.Entries, string(signRaw(t, mustText(t, EntryTag, &e), n.keys["BER"].Root)))
			})
		}, "key_history"},
		{"entry 2 naming the wrong previous", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				prev, _ := n.a.Entry("BER")
				e := prev.Entry
				e.Sequence, e.Previous, e.Issued = 2, hotline.ID{1}, t0.Add(hour)
				bj.Entries = append(bj.Entries, string(signRaw(t, mustText(t, EntryTag, &e), n.keys["BER"].Root)))
			})
		}, "bad_chain"},

		// Ratifications.
		{"ratification of an unknown version", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				r, _ := hotline.Sign(&hotline.Ratification{Party: "BER", Agreement: hotline.ID{1}, Version: 1, Time: t0}, n.keys["BER"].Root)
				bj.Ratifications = append(bj.Ratifications, string(r))
			})
		}, "bad_ratification"},
		{"ratification under the wrong number", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				r, _ := hotline.Sign(&hotline.Ratification{Party: "BER", Agreement: n.a.Latest().Hash(), Version: 2, Time: t0}, n.keys["BER"].Root)
				bj.Ratifications[0] = string(r)
			})
		}, "bad_ratification"},
		{"a party ratifying twice", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				r, _ := hotline.Sign(&hotline.Ratification{Party: "BER", Agreement: n.a.Latest().Hash(), Version: 1, Time: t0.Add(hour)}, n.keys["BER"].Root)
				bj.Ratifications = append(bj.Ratifications, string(r))
			})
		}, "bad_ratification"},
		{"the depositary ratifying", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				r, _ := hotline.Sign(&hotline.Ratification{Party: "DEP", Agreement: n.a.Latest().Hash(), Version: 1, Time: t0}, n.keys["DEP"].Root)
				bj.Ratifications = append(bj.Ratifications, string(r))
			})
		}, "bad_ratification"},
		{"ratification by a stranger", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				r, _ := hotline.Sign(&hotline.Ratification{Party: "XYZ", Agreement: n.a.Latest().Hash(), Version: 1, Time: t0}, fakeXYZ.Root)
				bj.Ratifications = append(bj.Ratifications, string(r))
			})
		}, "unknown_party"},

		// The draft.
		{"draft out of sequence", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				d := n.a.Latest().Terms()
				d.Version = 3
				bj.Draft = d
			})
		}, "bad_chain"},
		{"draft naming an unknown party", func() []byte {
			return mutBundle(t, n, func(bj *bundleJSON) {
				d, _ := n.a.NextDraft()
				d.Relays = []string{"ATL"}
				bj.Draft = d
			})
		}, "unknown_party"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.input())
			if err == nil {
				t.Fatalf("Parse accepted it: %d versions", len(a.versions))
			}
			if got := ErrorCode(err); got != tt.code {
				t.Errorf("error code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	n := newTestNet(t)
	fakeDEP, _ := hotline.GenerateSigningKey("DEP/root", false)
	fakeBER, _ := hotline.GenerateSigningKey("BER/root", false)
	fakeCRI, _ := hotline.GenerateSigningKey("CRI/root", false)
	tests := []struct {
		name string
		f    func(bj *bundleJSON)
	}{
		{"terms signed by another key named for the depositary", func(bj *bundleJSON) {
			bj.Terms[0] = string(signRaw(t, mustText(t, TermsTag, n.a.Latest().Terms()), fakeDEP))
		}},
		{"terms with an extra signature", func(bj *bundleJSON) {
			bj.Terms[0] = string(signRaw(t, mustText(t, TermsTag, n.a.Latest().Terms()), n.keys["DEP"].Root, n.keys["BER"].Root))
		}},
		{"terms with a broken signature", func(bj *bundleJSON) {
			s := bj.Terms[0]
			i := strings.LastIndex(s, "\n") - 3
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			bj.Terms[0] = s[:i] + string(c) + s[i+1:]
		}},
		{"entry signed by another key named for the party", func(bj *bundleJSON) {
			e, _ := n.a.Entry("BER")
			bj.Entries[entryIndex(t, bj, "BER")] = string(signRaw(t, mustText(t, EntryTag, &e.Entry), fakeBER))
		}},
		{"entry signed by the depositary", func(bj *bundleJSON) {
			e, _ := n.a.Entry("BER")
			bj.Entries[entryIndex(t, bj, "BER")] = string(signRaw(t, mustText(t, EntryTag, &e.Entry), n.keys["DEP"].Root))
		}},
		{"ratification signed by another key named for the party", func(bj *bundleJSON) {
			for i, s := range bj.Ratifications {
				if strings.Contains(s, "party CRI\n") {
					r, _ := hotline.Sign(&hotline.Ratification{Party: "CRI", Agreement: n.a.Latest().Hash(), Version: 1, Time: t0}, fakeCRI)
					bj.Ratifications[i] = string(r)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(mutBundle(t, n, tt.f))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = a.Verify()
			if got := ErrorCode(err); got != "bad_signature" {
				t.Errorf("Verify error %v (code %q), want bad_signature", err, got)
			}
		})
	}
}
