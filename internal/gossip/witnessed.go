package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/tlog"
)

// Verified is a checkpoint of a party's log that verified with the log's
// key, with what its cosignatures say.
type Verified struct {
	tlog.Checkpoint
	// Owner is the party whose log it is.
	Owner string
	// Cosignatures are its valid cosignatures by the agreement's witnesses,
	// the owner's own included, with their timestamps.
	Cosignatures []tlog.Cosignature
	// Witnessed reports whether the cosignatures of witnesses other than
	// the owner meet the agreement's witness quorum: only then is the
	// checkpoint believed.
	Witnessed bool
}

// Verify checks a signed checkpoint against the agreement at time now: it
// must be signed by the checkpoint key of the party whose log origin it
// names, and every cosignature by a witness of the agreement's policy must
// verify. The result says whether the witness quorum is met without the
// owner (C2SP tlog-policy, DESIGN §4): a checkpoint that is not may be kept
// to compare with others, never believed.
func Verify(agr *agreement.Agreement, signed []byte, now time.Time) (Verified, error) {
	first, _, ok := bytes.Cut(signed, []byte("\n"))
	if !ok {
		return Verified{}, errors.New("not a checkpoint")
	}
	origin := string(first)
	owner := ""
	for _, p := range agr.Parties() {
		if o, err := agr.LogOrigin(p.ID); err == nil && o == origin {
			owner = p.ID
			break
		}
	}
	if owner == "" {
		return Verified{}, fmt.Errorf("checkpoint origin %q is no party's log", truncate(origin))
	}
	pol, err := policyFor(agr, owner, now)
	if err != nil {
		return Verified{}, err
	}
	cp, cosigs, err := pol.Cosignatures(signed)
	if err != nil {
		return Verified{}, fmt.Errorf("checkpoint of %s's log: %w", owner, err)
	}
	cosigned := map[string]bool{}
	for _, c := range cosigs {
		if c.Witness != owner {
			cosigned[c.Witness] = true
		}
	}
	return Verified{
		Checkpoint:   cp,
		Owner:        owner,
		Cosignatures: cosigs,
		Witnessed:    pol.Satisfied(func(w string) bool { return cosigned[w] }),
	}, nil
}

// policyFor returns the C2SP tlog-policy that checkpoints of owner's log
// are verified with at time now: owner's checkpoint key, the witnesses'
// cosignature keys and the quorum of the version in force.
func policyFor(agr *agreement.Agreement, owner string, now time.Time) (*tlog.Policy, error) {
	v, err := agr.Current(now)
	if err != nil {
		return nil, err
	}
	k, err := agr.Key(owner, hotline.RoleCheckpoint, now)
	if err != nil {
		return nil, err
	}
	text, err := agr.WitnessPolicy(v, now)
	if err != nil {
		return nil, err
	}
	return tlog.ParsePolicy([]byte("log " + k.Key + "\n" + text))
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
