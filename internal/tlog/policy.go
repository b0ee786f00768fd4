package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Policy is a C2SP tlog-policy: the logs a verifier accepts, the witnesses
// it knows, and the quorum of witnesses whose cosignatures make a checkpoint
// valid. Build one with [ParsePolicy], or fill the fields and call
// [Policy.Validate]; [Policy.Marshal] writes the text form back.
type Policy struct {
	Logs      []PolicyLog
	Witnesses []PolicyWitness
	// Groups are in definition order: a group names only witnesses and the
	// groups before it.
	Groups []PolicyGroup
	// Quorum names a witness or a group, or is "none".
	Quorum string
}

// PolicyLog is a "log <vkey> [<url>]" line. Key is a signed-note verifier
// key of signature type 0x01 (Ed25519) whose name is the log's origin.
type PolicyLog struct {
	Key string
	URL string
}

// PolicyWitness is a "witness <name> <vkey> [<url>]" line. Key is a
// cosignature/v1 verifier key (signature type 0x04). URL, if any, is the
// witness's C2SP tlog-witness submission prefix.
type PolicyWitness struct {
	Name string
	Key  string
	URL  string
}

// PolicyGroup is a "group <name> <threshold> <member>..." line. Threshold is
// "all", "any", or a decimal k with 1 ≤ k ≤ len(Members).
type PolicyGroup struct {
	Name      string
	Threshold string
	Members   []string
}

// QuorumNone is the predefined name of the empty quorum.
const QuorumNone = "none"

// Policy limits: far above the few hundred parties of an agreement, and above
// the 32 logs, witnesses and groups the specification asks every
// implementation to support.
const (
	maxPolicySize    = 1 << 20
	maxPolicyEntries = 4096
)

// ErrPolicy is returned (wrapped) for a policy that breaks C2SP tlog-policy.
var ErrPolicy = errors.New("invalid policy")

// ParsePolicy parses the text form of a C2SP tlog-policy and validates it.
// Comments and blank lines are dropped; everything else is kept in order.
func ParsePolicy(text []byte) (*Policy, error) {
	if len(text) > maxPolicySize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrPolicy, maxPolicySize)
	}
	for i, c := range text {
		if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
			return nil, fmt.Errorf("%w: control character %#02x at byte %d", ErrPolicy, c, i)
		}
	}
	p := &Policy{}
	quorums := 0
	for n, line := range bytes.Split(text, []byte("\n")) {
		fields := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		fail := func(format string, args ...any) (*Policy, error) {
			return nil, fmt.Errorf("%w: line %d: %s", ErrPolicy, n+1, fmt.Sprintf(format, args...))
		}
		switch kw, args := fields[0], fields[1:]; kw {
		case "log":
			if len(args) < 1 || len(args) > 2 {
				return fail("want log <vkey> [<url>]")
			}
			l := PolicyLog{Key: args[0]}
			if len(args) == 2 {
				l.URL = args[1]
			}
			p.Logs = append(p.Logs, l)
		case "witness":
			if len(args) < 2 || len(args) > 3 {
				return fail("want witness <name> <vkey> [<url>]")
			}
			w := PolicyWitness{Name: args[0], Key: args[1]}
			if len(args) == 3 {
				w.URL = args[2]
			}
			p.Witnesses = append(p.Witnesses, w)
		case "group":
			if len(args) < 3 {
				return fail("want group <name> <all|any|k> <member>...")
			}
			// Members must be defined on lines above the group.
			for _, m := range args[2:] {
				if !p.defines(m) {
					return fail("group %q member %q is not defined on a line above", truncate(args[0]), truncate(m))
				}
			}
			p.Groups = append(p.Groups, PolicyGroup{Name: args[0], Threshold: args[1], Members: args[2:]})
		case "quorum":
			if len(args) != 1 {
				return fail("want quorum <name>")
			}
			if quorums++; quorums > 1 {
				return fail("a second quorum line")
			}
			// The quorum may only name what is defined above it.
			if args[0] != QuorumNone && !p.defines(args[0]) {
				return fail("quorum %q is not defined on a line above", truncate(args[0]))
			}
			p.Quorum = args[0]
		default:
			return fail("unknown keyword %q", truncate(kw))
		}
		if len(p.Logs)+len(p.Witnesses)+len(p.Groups) > maxPolicyEntries {
			return fail("more than %d entries", maxPolicyEntries)
		}
	}
	if quorums == 0 {
		return nil, fmt.Errorf("%w: no quorum line", ErrPolicy)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Policy) defines(name string) bool {
	for _, w := range p.Witnesses {
		if w.Name == name {
			return true
		}
	}
	for _, g := range p.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

// Validate checks everything C2SP tlog-policy requires of a policy whose
// lines are written in the order Marshal writes them: keys of the right
// signature types, no duplicate keys, unique names, groups that name only
// witnesses and earlier groups, each at most once, thresholds 1 ≤ k ≤ n,
// and a defined quorum.
func (p *Policy) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrPolicy, fmt.Sprintf(format, args...))
	}
	if len(p.Logs)+len(p.Witnesses)+len(p.Groups) > maxPolicyEntries {
		return fail("more than %d entries", maxPolicyEntries)
	}
	keys := make(map[string]bool)
	for _, l := range p.Logs {
		if _, err := NewLogVerifier(l.Key); err != nil {
			return fail("log: %v", err)
		}
		if err := checkToken(l.URL, true); err != nil {
			return fail("log URL: %v", err)
		}
		k := "log " + string(vkeyPublicKey(l.Key))
		if keys[k] {
			return fail("duplicate log key %q", truncate(l.Key))
		}
		keys[k] = true
	}
	defined := map[string]bool{}
	for _, w := range p.Witnesses {
		if err := checkName(w.Name); err != nil {
			return fail("witness name: %v", err)
		}
		if defined[w.Name] {
			return fail("witness %q defined twice", truncate(w.Name))
		}
		defined[w.Name] = true
		if _, err := NewCosignatureVerifier(w.Key); err != nil {
			return fail("witness %q: %v", truncate(w.Name), err)
		}
		if err := checkToken(w.URL, true); err != nil {
			return fail("witness %q URL: %v", truncate(w.Name), err)
		}
		k := "witness " + string(vkeyPublicKey(w.Key))
		if keys[k] {
			return fail("duplicate witness key for %q", truncate(w.Name))
		}
		keys[k] = true
	}
	for _, g := range p.Groups {
		if err := checkName(g.Name); err != nil {
			return fail("group name: %v", err)
		}
		if defined[g.Name] {
			return fail("group %q: name already defined", truncate(g.Name))
		}
		if len(g.Members) == 0 {
			return fail("group %q has no members", truncate(g.Name))
		}
		seen := map[string]bool{}
		for _, m := range g.Members {
			if !defined[m] {
				return fail("group %q member %q is not defined before it", truncate(g.Name), truncate(m))
			}
			if seen[m] {
				return fail("group %q lists %q twice", truncate(g.Name), truncate(m))
			}
			seen[m] = true
		}
		if _, err := g.required(); err != nil {
			return fail("group %q: %v", truncate(g.Name), err)
		}
		defined[g.Name] = true
	}
	if p.Quorum == "" {
		return fail("no quorum")
	}
	if p.Quorum != QuorumNone && !defined[p.Quorum] {
		return fail("quorum %q is not defined", truncate(p.Quorum))
	}
	return nil
}

func checkName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if name == QuorumNone {
		return errors.New(`"none" is reserved`)
	}
	return checkToken(name, false)
}

// checkToken checks that s can be written as one whitespace-separated field.
func checkToken(s string, mayBeEmpty bool) error {
	if s == "" {
		if mayBeEmpty {
			return nil
		}
		return errors.New("empty")
	}
	if strings.HasPrefix(s, "#") {
		return errors.New("starts with #")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == 0x7f {
			return fmt.Errorf("%q contains a space or a control character", truncate(s))
		}
	}
	return nil
}

// required returns k for the group.
func (g PolicyGroup) required() (int, error) {
	switch g.Threshold {
	case "all":
		return len(g.Members), nil
	case "any":
		return 1, nil
	}
	k, err := parseDecimal(g.Threshold)
	if err != nil || k < 1 || k > uint64(len(g.Members)) {
		return 0, fmt.Errorf("threshold %q: want all, any or 1..%d", truncate(g.Threshold), len(g.Members))
	}
	return int(k), nil
}

// Marshal returns the policy's text form: logs, witnesses, groups in order,
// then the quorum line.
func (p *Policy) Marshal() []byte {
	var b bytes.Buffer
	for _, l := range p.Logs {
		b.WriteString("log " + l.Key)
		if l.URL != "" {
			b.WriteString(" " + l.URL)
		}
		b.WriteByte('\n')
	}
	for _, w := range p.Witnesses {
		b.WriteString("witness " + w.Name + " " + w.Key)
		if w.URL != "" {
			b.WriteString(" " + w.URL)
		}
		b.WriteByte('\n')
	}
	for _, g := range p.Groups {
		b.WriteString("group " + g.Name + " " + g.Threshold + " " + strings.Join(g.Members, " ") + "\n")
	}
	b.WriteString("quorum " + p.Quorum + "\n")
	return b.Bytes()
}

// Satisfied reports whether the witnesses for which cosigned returns true
// meet the quorum. The quorum "none" is always met.
func (p *Policy) Satisfied(cosigned func(witness string) bool) bool {
	if p.Quorum == QuorumNone {
		return true
	}
	groups := make(map[string]PolicyGroup, len(p.Groups))
	for _, g := range p.Groups {
		groups[g.Name] = g
	}
	memo := map[string]bool{}
	// Validate guarantees groups name only earlier groups, so the recursion
	// ends; the depth bound guards policies built without Validate.
	var met func(name string, depth int) bool
	met = func(name string, depth int) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		g, ok := groups[name]
		if !ok {
			v := cosigned(name)
			memo[name] = v
			return v
		}
		if depth > len(p.Groups) {
			return false
		}
		k, err := g.required()
		if err != nil {
			return false
		}
		n := 0
		for _, m := range g.Members {
			if met(m, depth+1) {
				n++
			}
		}
		memo[name] = n >= k
		return n >= k
	}
	return met(p.Quorum, 0)
}

// Witness returns the witness of the given name.
func (p *Policy) Witness(name string) (PolicyWitness, bool) {
	for _, w := range p.Witnesses {
		if w.Name == name {
			return w, true
		}
	}
	return PolicyWitness{}, false
}

// ErrNoQuorum is returned (wrapped) for a checkpoint whose valid
// cosignatures do not meet a policy's quorum.
var ErrNoQuorum = errors.New("checkpoint does not meet the witness quorum")

// VerifyCheckpoint verifies a signed checkpoint against the policy: it must
// be signed by one of the policy's logs (the key name being the origin), its
// cosignatures by the policy's witnesses must be valid, and those of
// witnesses not in exclude must meet the quorum. Pass the party the
// checkpoint would favour in exclude: a log's owner never counts toward its
// own quorum. The names of the witnesses whose cosignatures verified are
// returned with the checkpoint.
func (p *Policy) VerifyCheckpoint(signed []byte, exclude ...string) (Checkpoint, []string, error) {
	cp, cosigs, err := p.Cosignatures(signed)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	cosigned := map[string]bool{}
	var names []string
	for _, c := range cosigs {
		cosigned[c.Witness] = true
		names = append(names, c.Witness)
	}
	for _, x := range exclude {
		delete(cosigned, x)
	}
	if !p.Satisfied(func(w string) bool { return cosigned[w] }) {
		return cp, names, fmt.Errorf("%w: %s", ErrNoQuorum, p.Quorum)
	}
	return cp, names, nil
}

// Cosignature is a witness's valid cosignature on a checkpoint.
type Cosignature struct {
	// Witness is the witness's name in the policy.
	Witness string
	// Time is the cosignature's timestamp: when the witness saw the
	// checkpoint as the largest of the log.
	Time time.Time
	// Signature is the note signature line, without its newline: the
	// evidence itself.
	Signature string
}

// Cosignatures verifies a checkpoint's signature by one of the policy's logs
// and returns its valid cosignatures by the policy's witnesses, in the order
// of the note, without judging the quorum. A cosignature by a known witness
// key that fails to verify makes the whole checkpoint invalid, as C2SP
// signed-note asks.
func (p *Policy) Cosignatures(signed []byte) (Checkpoint, []Cosignature, error) {
	text, _, err := splitNote(signed)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	origin, _, _ := strings.Cut(string(text), "\n")
	var logV note.Verifier
	for _, l := range p.Logs {
		v, err := NewLogVerifier(l.Key)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		if v.Name() == origin {
			logV = v
			break
		}
	}
	if logV == nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint origin %q is not a log of the policy", truncate(origin))
	}
	byKey := map[string]string{} // key name + id -> witness name
	var wvs []note.Verifier
	for _, w := range p.Witnesses {
		v, err := NewCosignatureVerifier(w.Key)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		wvs = append(wvs, v)
		byKey[fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())] = w.Name
	}
	cp, n, err := OpenCheckpoint(signed, logV, wvs...)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	var out []Cosignature
	for _, s := range n.Sigs {
		if w, ok := byKey[fmt.Sprintf("%s+%08x", s.Name, s.Hash)]; ok {
			t, err := fnote.CoSigV1Timestamp(s)
			if err != nil {
				return Checkpoint{}, nil, fmt.Errorf("cosignature of %q: %w", w, err)
			}
			out = append(out, Cosignature{Witness: w, Time: t, Signature: sigLine(s)})
		}
	}
	return cp, out, nil
}
