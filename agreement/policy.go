package agreement

import (
	"slices"
	"strconv"
	"strings"
)

// Policy is the witness quorum of a version: the "group" and "quorum" lines
// of a C2SP tlog-policy whose witnesses are parties, named by their ids.
// It answers whether a set of witnesses that cosigned a checkpoint meets
// the quorum.
type Policy struct {
	lines     []string
	witnesses []string
	groups    map[string]policyGroup
	order     []string // groups in definition order: members come first
	quorum    string   // "none", a witness, or a group
}

type policyGroup struct {
	k       int
	members []string
}

// maxPolicyNames bounds the witnesses and groups of a policy. C2SP
// tlog-policy recommends supporting at least 32 of each; a network of every
// UN member state needs more.
const maxPolicyNames = 1024

// ParsePolicy parses the group and quorum lines of a witness policy over
// the given witnesses (party ids). The syntax is C2SP tlog-policy's, in the
// one form hotline writes: single spaces, no comments, no empty lines, no
// "log" or "witness" lines, exactly one quorum line, last; a group names
// only witnesses or groups defined before it, each at most once, with a
// threshold "all", "any" or k with 1 ≤ k ≤ its size.
func ParsePolicy(lines []string, witnesses []string) (*Policy, error) {
	p := &Policy{lines: slices.Clone(lines), witnesses: slices.Clone(witnesses), groups: map[string]policyGroup{}}
	if len(witnesses) > maxPolicyNames || len(lines) > maxPolicyNames {
		return nil, errorf(ErrBadPolicy, "witness policy: more than %d witnesses or lines", maxPolicyNames)
	}
	defined := map[string]bool{}
	for _, w := range witnesses {
		defined[w] = true
	}
	if len(lines) == 0 {
		return nil, errorf(ErrBadPolicy, "witness policy: no quorum line (write \"quorum none\" for no witnessing)")
	}
	for i, line := range lines {
		fields := strings.Split(line, " ")
		bad := func(format string, args ...any) error {
			return errorf(ErrBadPolicy, "witness policy line %d %q: "+format, append([]any{i + 1, truncate(line)}, args...)...)
		}
		for _, f := range fields {
			if f == "" || strings.ContainsAny(f, "\t\n\r") {
				return nil, bad("fields are separated by single spaces")
			}
		}
		switch fields[0] {
		case "quorum":
			if i != len(lines)-1 {
				return nil, bad("the quorum line must be the last line")
			}
			if len(fields) != 2 {
				return nil, bad("want \"quorum <name>\"")
			}
			if fields[1] != "none" && !defined[fields[1]] {
				return nil, bad("%q is not a witness or a group defined above", fields[1])
			}
			p.quorum = fields[1]
		case "group":
			if len(fields) < 4 {
				return nil, bad("want \"group <name> <all|any|k> <member>...\"")
			}
			name, members := fields[1], fields[3:]
			if !validPolicyName(name) || name == "none" {
				return nil, bad("%q is not a usable group name", name)
			}
			if defined[name] {
				return nil, bad("%q is already defined", name)
			}
			seen := map[string]bool{}
			for _, m := range members {
				if m == "none" || !defined[m] {
					return nil, bad("member %q is not a witness or a group defined above", m)
				}
				if seen[m] {
					return nil, bad("member %q is listed twice", m)
				}
				seen[m] = true
			}
			var k int
			switch fields[2] {
			case "all":
				k = len(members)
			case "any":
				k = 1
			default:
				n, err := strconv.Atoi(fields[2])
				if err != nil || strconv.Itoa(n) != fields[2] || n < 1 || n > len(members) {
					return nil, bad("threshold %q: want all, any, or a number from 1 to %d", fields[2], len(members))
				}
				k = n
			}
			p.groups[name] = policyGroup{k: k, members: members}
			p.order = append(p.order, name)
			defined[name] = true
		case "log", "witness":
			return nil, bad("%s lines are not stored in the terms: logs and witness keys come from the directory", fields[0])
		default:
			return nil, bad("unknown line type %q", fields[0])
		}
	}
	if p.quorum == "" {
		return nil, errorf(ErrBadPolicy, "witness policy: the last line must be the quorum line")
	}
	return p, nil
}

func validPolicyName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// Lines returns the policy's group and quorum lines.
func (p *Policy) Lines() []string { return slices.Clone(p.lines) }

// Witnesses returns the witnesses the policy is over.
func (p *Policy) Witnesses() []string { return slices.Clone(p.witnesses) }

// None reports whether the quorum is "none": checkpoints need no
// cosignature.
func (p *Policy) None() bool { return p.quorum == "none" }

// Satisfied reports whether the witnesses for which cosigned returns true
// meet the quorum.
func (p *Policy) Satisfied(cosigned func(witness string) bool) bool {
	if p.quorum == "none" {
		return true
	}
	// Groups name only what was defined before them, so one pass in
	// definition order decides each group once: linear in the size of the
	// policy, however groups share members.
	met := make(map[string]bool, len(p.witnesses)+len(p.order))
	for _, w := range p.witnesses {
		met[w] = cosigned(w)
	}
	for _, name := range p.order {
		g := p.groups[name]
		n := 0
		for _, m := range g.members {
			if met[m] {
				n++
			}
		}
		met[name] = n >= g.k
	}
	return met[p.quorum]
}

// SatisfiedWithout reports whether the quorum is met by the witnesses for
// which cosigned returns true, not counting owner: a log's owner never
// counts toward its own quorum.
func (p *Policy) SatisfiedWithout(owner string, cosigned func(witness string) bool) bool {
	return p.Satisfied(func(w string) bool { return w != owner && cosigned(w) })
}

// Neutral reports whether checkpoints of owner's log can meet the quorum
// without the cosignatures of owner and of other: whether the neutral time
// of an entry of owner's log for other (the k-th earliest cosignature by a
// witness other than other, owner never counting) can exist at all. The
// quorum "none" is always met, but then nothing is witnessed.
func (p *Policy) Neutral(owner, other string) bool {
	return p.Satisfied(func(w string) bool { return w != owner && w != other })
}

// checkAttainable refuses a policy that some witness's own log could never
// meet because it needs that witness's cosignature.
func (p *Policy) checkAttainable() error {
	for _, w := range p.witnesses {
		if !p.SatisfiedWithout(w, func(string) bool { return true }) {
			return errorf(ErrBadPolicy, "witness policy: the quorum cannot be met for %s's own log without %s's cosignature", w, w)
		}
	}
	return nil
}

// Threshold returns, for a policy of the form hotline writes by default
// ("group witnesses <k> <every witness>" then "quorum witnesses"), k; for
// "quorum none", 0; for any other policy, -1.
func (p *Policy) Threshold() int {
	if p.None() {
		return 0
	}
	g, ok := p.groups[p.quorum]
	if !ok || len(p.groups) != 1 || len(g.members) != len(p.witnesses) {
		return -1
	}
	return g.k
}

// DefaultPolicy returns the policy lines hotline writes for witnesses with
// a threshold of k cosignatures: "group witnesses <k> <w1> <w2> ..." and
// "quorum witnesses", or "quorum none" when k is 0 or there are no
// witnesses.
func DefaultPolicy(witnesses []string, k int) []string {
	if k <= 0 || len(witnesses) == 0 {
		return []string{"quorum none"}
	}
	return []string{
		"group witnesses " + strconv.Itoa(k) + " " + strings.Join(witnesses, " "),
		"quorum witnesses",
	}
}

// DefaultThreshold is the threshold hotline proposes for n witnesses: a
// majority of the witnesses other than a log's owner, at least one; none
// when there are fewer than two witnesses (one witness could never cosign
// its own log).
func DefaultThreshold(n int) int {
	if n < 2 {
		return 0
	}
	return (n-1)/2 + 1
}
