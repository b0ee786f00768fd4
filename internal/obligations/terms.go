package obligations

import (
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// agreementTerms adapts an agreement to [Terms], caching each kind.
type agreementTerms struct {
	versions map[hotline.ID]*agreement.Version
	kinds    map[kindKey]*agreement.Kind
}

type kindKey struct {
	version hotline.ID
	name    string
}

// FromAgreement returns the [Terms] of every version of a, read once: the
// result does not change when a does.
func FromAgreement(a *agreement.Agreement) Terms {
	t := &agreementTerms{versions: map[hotline.ID]*agreement.Version{}, kinds: map[kindKey]*agreement.Kind{}}
	for _, v := range a.Versions() {
		t.versions[v.Hash()] = v
		for _, k := range v.Kinds() {
			t.kinds[kindKey{v.Hash(), k.Name}] = &k
		}
	}
	return t
}

func (t *agreementTerms) Kind(version hotline.ID, name string) (*agreement.Kind, bool) {
	k, ok := t.kinds[kindKey{version, name}]
	return k, ok
}

func (t *agreementTerms) Quorum(version hotline.ID) Quorum {
	if v := t.versions[version]; v != nil {
		return v.Policy()
	}
	return nil
}

func (t *agreementTerms) Grace(version hotline.ID) time.Duration {
	if v := t.versions[version]; v != nil {
		return v.Grace()
	}
	return 0
}
