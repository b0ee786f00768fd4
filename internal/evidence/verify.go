package evidence

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/obligations"
	"github.com/hotline-net/hotline/internal/tlog"
)

// Pin is the trust anchor a verifier brings: the hash of version 1 of the
// agreement's terms, or the depositary's root key that version 1 is issued
// under. A bundle's chain is believed only if it starts there.
type Pin struct {
	Genesis       hotline.ID
	DepositaryKey string
}

func (p Pin) check(a *agreement.Agreement) error {
	v1 := a.Versions()[0]
	switch {
	case !p.Genesis.IsZero() && v1.Hash() != p.Genesis:
		return hotline.Errorf(ErrUnverified, "agreement: the chain is not rooted at the pinned genesis %s (its version 1 is %s)", p.Genesis, v1.Hash())
	case p.DepositaryKey != "" && v1.Depositary().Root != p.DepositaryKey:
		return hotline.Errorf(ErrUnverified, "agreement: version 1 is not issued under the pinned depositary key")
	case p.Genesis.IsZero() && p.DepositaryKey == "":
		return hotline.Errorf(ErrUnverified, "agreement: no genesis pinned: a chain is never trusted because the bundle carries it")
	}
	return nil
}

// Report is what [Verify] found.
type Report struct {
	// Bundles describes each bundle verified, in the order given.
	Bundles []Summary
	// Agreement is the chain all bundles verified against (their union).
	Agreement *agreement.Agreement
	// Obligations are the verdicts, with their reasons, on the union of the
	// verified facts, as of the verification time.
	Obligations []obligations.Obligation
	// Equivocations describe each log proven to have signed two
	// checkpoints that cannot both be true, by its owner.
	Equivocations map[string]string
	// Input is what the verdicts were computed from.
	Input *obligations.Input
}

// Summary counts what one bundle carried and verified.
type Summary struct {
	Party, About string
	Exported     time.Time
	Envelopes    int
	Receipts     int
	Relayed      int
	Checkpoints  int
	Inclusion    int
	Consistency  int
}

type pairKey struct {
	id    hotline.ID
	party string
}

type entryKey struct {
	log string
	dir hotline.Direction
	id  hotline.ID
}

type cosKey struct {
	log, witness string
	size         uint64
}

type sizeKey struct {
	log  string
	size uint64
}

// receiptFact is a verified receipt, to link to proven log entries once
// every bundle is read.
type receiptFact struct {
	message hotline.ID
	party   string
	index   uint64
	id      hotline.ID
}

// facts is the union of what the bundles verified.
type facts struct {
	agr           *agreement.Agreement
	messages      map[hotline.ID]obligations.Message
	deliveries    map[pairKey]*obligations.Delivery
	cosigs        map[cosKey]time.Time
	roots         map[sizeKey][32]byte
	equivocations map[string]string
	proven        map[entryKey]uint64
	receipts      []receiptFact
	keys          *keys
	// verified holds the signatures verified, by what they sign.
	mu       sync.Mutex
	verified map[string]bool
}

// Verify checks bundles against pin, offline, and judges every obligation
// they show as of now. Any part of any bundle that does not verify fails
// the whole verification with an error (code bundle_unverified or
// bundle_malformed) naming the bundle and the part.
func Verify(bundles []*Bundle, pin Pin, now time.Time) (*Report, error) {
	if len(bundles) == 0 {
		return nil, hotline.Errorf(ErrUnverified, "no bundle to verify")
	}
	f := &facts{
		messages:      map[hotline.ID]obligations.Message{},
		deliveries:    map[pairKey]*obligations.Delivery{},
		cosigs:        map[cosKey]time.Time{},
		roots:         map[sizeKey][32]byte{},
		equivocations: map[string]string{},
		proven:        map[entryKey]uint64{},
	}
	rep := &Report{Equivocations: f.equivocations}
	// The chains first: each from the pin, then their union, which every
	// bundle's contents are checked against (a key one bundle's chain
	// shows revoked is revoked for all).
	for i, b := range bundles {
		if err := f.chain(b, pin); err != nil {
			return nil, fmt.Errorf("bundle %d (%s about %s): %w", i+1, b.Party, b.About, err)
		}
	}
	f.keys = &keys{a: f.agr, v: map[string]note.Verifier{}}
	f.verified = map[string]bool{}
	for i, b := range bundles {
		s, err := f.add(b)
		if err != nil {
			return nil, fmt.Errorf("bundle %d (%s about %s): %w", i+1, b.Party, b.About, err)
		}
		rep.Bundles = append(rep.Bundles, s)
	}
	if err := f.monotonic(); err != nil {
		return nil, err
	}
	in := f.input()
	rep.Agreement = f.agr
	rep.Input = in
	res := obligations.Evaluate(obligations.FromAgreement(f.agr), obligations.Config{SkipEvents: true}, in, now)
	for i := range res.Obligations {
		o := &res.Obligations[i]
		if o.State != obligations.Missed && o.State != obligations.Unprovable {
			continue
		}
		for _, p := range []string{o.From, o.To} {
			if why, ok := f.equivocations[p]; ok {
				o.State = obligations.Disputed
				o.Why = p + "'s log equivocated (" + why + "): a verdict against " + o.To + " cannot rest on it"
				break
			}
		}
	}
	rep.Obligations = res.Obligations
	return rep, nil
}

// keys caches verifiers by vkey.
type keys struct {
	a  *agreement.Agreement
	mu sync.Mutex
	v  map[string]note.Verifier
}

func (k *keys) signed(party string, role hotline.KeyRole, created, received time.Time) (note.Verifier, error) {
	key, err := k.a.SignedKey(party, role, created, received)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.v[key.Key]; ok {
		return v, nil
	}
	v, err := hotline.NewVerifier(key.Key)
	if err != nil {
		return nil, err
	}
	k.v[key.Key] = v
	return v, nil
}

func unverified(format string, args ...any) error {
	return hotline.Errorf(ErrUnverified, format, args...)
}

// chain verifies a bundle's agreement chain from the pin and merges it
// into the union.
func (f *facts) chain(b *Bundle, pin Pin) error {
	a, err := agreement.Parse(b.Body.Agreement)
	if err != nil {
		return unverified("agreement: %v", err)
	}
	if err := a.Verify(); err != nil {
		return unverified("agreement: %v", err)
	}
	if err := pin.check(a); err != nil {
		return err
	}
	if f.agr == nil {
		f.agr = a
		return nil
	}
	m, err := f.agr.Merge(a)
	if err == nil {
		err = m.Verify()
	}
	if err != nil {
		return unverified("agreement: its chain and another bundle's do not merge: %v", err)
	}
	f.agr = m
	return nil
}

// once reports whether the signature over key was verified before: a
// receipt or an envelope's header that both sides' bundles carry is
// verified once. The caller that verifies one calls mark.
func (f *facts) once(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verified[key]
}

func (f *facts) mark(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified[key] = true
}

// add verifies one bundle's contents against the chains' union and adds
// its facts.
func (f *facts) add(b *Bundle) (Summary, error) {
	sum := Summary{Party: b.Party, About: b.About, Exported: b.Exported}
	a, ks := f.agr, f.keys
	var err error

	// The exporter's signature over the statement, which names the body.
	if b.signed == nil {
		return sum, unverified("the bundle was not parsed: it carries no signed statement")
	}
	v, err := ks.signed(b.Party, hotline.RoleMessage, b.Exported, b.Exported)
	if err != nil {
		return sum, unverified("statement: %s's message key: %v", b.Party, err)
	}
	if _, err := note.Open(b.signed, note.VerifierList(v)); err != nil {
		return sum, unverified("statement: not signed by %s's message key: %v", b.Party, err)
	}
	if _, err := a.Party(b.About); err != nil {
		return sum, unverified("statement: about %s: %v", b.About, err)
	}
	if len(b.Body.Refusals) > 0 {
		return sum, unverified("refusals: %d signed refusals, which protocol version 1 does not define: this verifier cannot check them", len(b.Body.Refusals))
	}

	owners := map[string]string{}
	for _, p := range a.Parties() {
		if o, err := a.LogOrigin(p.ID); err == nil {
			owners[o] = p.ID
		}
	}

	// Checkpoints: each must carry the quorum of witnesses other than the
	// log's owner.
	local := map[sizeKey][32]byte{}
	// Inclusion proofs carry their checkpoint again: each note is
	// verified once.
	seen := map[string]gossip.Verified{}
	checkpoint := func(what string, signed []byte) (gossip.Verified, error) {
		if cp, ok := seen[string(signed)]; ok {
			return cp, nil
		}
		cp, err := gossip.Verify(a, signed, b.Exported)
		if err != nil {
			return cp, unverified("%s: %v", what, err)
		}
		if !cp.Witnessed {
			return cp, unverified("%s: checkpoint %d of %s's log does not carry the witness quorum (witnesses other than %s)", what, cp.Size, cp.Owner, cp.Owner)
		}
		seen[string(signed)] = cp
		return cp, nil
	}
	for i, n := range b.Body.Checkpoints {
		cp, err := checkpoint(fmt.Sprintf("checkpoints[%d]", i), n)
		if err != nil {
			return sum, err
		}
		k := sizeKey{cp.Owner, cp.Size}
		if h, ok := local[k]; ok && h != cp.Hash {
			f.equivocate(cp.Owner, cp.Size)
		}
		local[k] = cp.Hash
		f.checkpoint(cp)
	}
	sum.Checkpoints = len(b.Body.Checkpoints)

	// Consistency: every two checkpoints of a log next to each other in
	// size are linked by a proof.
	linked := map[[2]sizeKey]bool{}
	for i, t := range b.Body.Consistency {
		c, err := ParseConsistency(t)
		if err != nil {
			return sum, fmt.Errorf("consistency[%d]: %w", i, err)
		}
		owner, ok := owners[c.Origin]
		if !ok {
			return sum, unverified("consistency[%d]: origin %q is no party's log", i, truncate(c.Origin))
		}
		oldK, newK := sizeKey{owner, c.Old}, sizeKey{owner, c.New}
		oldRoot, ok1 := local[oldK]
		newRoot, ok2 := local[newK]
		if !ok1 || !ok2 {
			return sum, unverified("consistency[%d]: checkpoints %d and %d of %s's log are not both in the bundle", i, c.Old, c.New, owner)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, c.Old, c.New, c.Hashes, oldRoot[:], newRoot[:]); err != nil {
			return sum, unverified("consistency[%d]: %s's log from size %d to %d: %v", i, owner, c.Old, c.New, err)
		}
		linked[[2]sizeKey{oldK, newK}] = true
	}
	bylog := map[string][]uint64{}
	for k := range local {
		bylog[k.log] = append(bylog[k.log], k.size)
	}
	for log, sizes := range bylog {
		slices.Sort(sizes)
		for i := 1; i < len(sizes); i++ {
			if !linked[[2]sizeKey{{log, sizes[i-1]}, {log, sizes[i]}}] {
				return sum, unverified("checkpoints: no consistency proof links checkpoints %d and %d of %s's log", sizes[i-1], sizes[i], log)
			}
		}
	}
	sum.Consistency = len(b.Body.Consistency)

	// Inclusion proofs, each against a checkpoint of the bundle.
	var proven []entryKey // in the order of the proofs
	for i, t := range b.Body.Inclusion {
		what := fmt.Sprintf("inclusion[%d]", i)
		p, err := tlog.ParseProof(t)
		if err != nil {
			return sum, hotline.Errorf(ErrMalformed, "%s: %v", what, err)
		}
		if len(p.Extra) != 1+32 || p.Extra[0] < byte(hotline.Sent) || p.Extra[0] > byte(hotline.ReceiptReceived) {
			return sum, malformed("%s: the extra data is not a direction (1, 2 or 3) and an id", what)
		}
		cp, err := checkpoint(what, p.Checkpoint)
		if err != nil {
			return sum, err
		}
		if h, ok := local[sizeKey{cp.Owner, cp.Size}]; !ok || h != cp.Hash {
			return sum, unverified("%s: its checkpoint (%d of %s's log) is not among the bundle's checkpoints", what, cp.Size, cp.Owner)
		}
		dir, id := hotline.Direction(p.Extra[0]), hotline.ID(p.Extra[1:])
		entry := hotline.LeafEntry(cp.Origin, dir, id)
		if p.Index >= cp.Size {
			return sum, unverified("%s: index %d is not below the checkpoint size %d", what, p.Index, cp.Size)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, cp.Size, rfc6962.DefaultHasher.HashLeaf(entry[:]), p.Hashes, cp.Hash[:]); err != nil {
			return sum, unverified("%s: entry %d of %s's log (%s %s): %v", what, p.Index, cp.Owner, dir, id, err)
		}
		k := entryKey{cp.Owner, dir, id}
		proven = append(proven, k)
		f.proven[k] = p.Index
	}
	sum.Inclusion = len(b.Body.Inclusion)

	// Envelopes, receipts and relay receipts: the signature checks run in
	// parallel, the facts are added in order.
	type envFact struct {
		m   obligations.Message
		env *hotline.Envelope
	}
	envs := make([]envFact, len(b.Body.Envelopes))
	err = parallel(len(b.Body.Envelopes), func(i int) error {
		e := &b.Body.Envelopes[i]
		env, err := hotline.Parse(e.Envelope)
		if err != nil {
			return fmt.Errorf("envelopes[%d]: %w", i, err)
		}
		h := &env.Header
		if _, err := a.Version(h.Agreement); err != nil {
			return unverified("envelopes[%d] (%s): it names agreement version %s, which the chain does not hold", i, env.ID(), h.Agreement)
		}
		if key := "envelope\x00" + string(env.SignedHeader()); f.once(key) {
			// The header's signature is verified: what remains is what
			// it commits to.
			if int64(len(env.Ciphertext())) != h.PayloadSize || sha256.Sum256(env.Ciphertext()) != h.PayloadHash {
				return unverified("envelopes[%d] (%s): the ciphertext does not match the header's payload commitment", i, env.ID())
			}
			for _, r := range h.Recipients {
				if st := env.Stanza(r.Party); st != nil && sha256.Sum256(st) != r.StanzaHash {
					return unverified("envelopes[%d] (%s): the key stanza for %s does not match the header", i, env.ID(), r.Party)
				}
			}
		} else {
			v, err := ks.signed(h.From, hotline.RoleMessage, h.Created, h.Created)
			if err != nil {
				return unverified("envelopes[%d] (%s): %s's message key: %v", i, env.ID(), h.From, err)
			}
			if err := env.Verify(v); err != nil {
				return unverified("envelopes[%d] (%s): %v", i, env.ID(), err)
			}
			f.mark(key)
		}
		in, err := h.CheckInner(e.Inner)
		if err != nil {
			return unverified("envelopes[%d] (%s): the revealed inner header: %v", i, env.ID(), err)
		}
		to := make([]string, len(h.Recipients))
		for j, r := range h.Recipients {
			to[j] = r.Party
		}
		envs[i] = envFact{env: env, m: obligations.Message{
			ID: env.ID(), From: h.From, To: to, Kind: in.Kind, Severity: in.Severity,
			Thread: in.Thread, Refs: in.Refs, Agreement: h.Agreement, Created: h.Created,
		}}
		return nil
	})
	if err != nil {
		return sum, err
	}
	have := map[entryKey]bool{}
	for _, e := range envs {
		f.messages[e.m.ID] = e.m
		have[entryKey{e.m.From, hotline.Sent, e.m.ID}] = true
		for _, r := range e.m.To {
			have[entryKey{r, hotline.Received, e.m.ID}] = true
		}
	}
	sum.Envelopes = len(envs)

	rcpts := make([]receiptFact, len(b.Body.Receipts))
	times := make([]time.Time, len(b.Body.Receipts))
	err = parallel(len(b.Body.Receipts), func(i int) error {
		n := b.Body.Receipts[i]
		r, err := hotline.ParseReceipt(noteText(n))
		if err != nil {
			return unverified("receipts[%d]: %v", i, err)
		}
		rid := hotline.NoteID(noteText(n))
		if key := "receipt\x00" + string(n); !f.once(key) {
			v, err := ks.signed(r.Party, hotline.RoleMessage, r.Received, r.Received)
			if err != nil {
				return unverified("receipts[%d] (%s's receipt of %s): %v", i, r.Party, r.Message, err)
			}
			if r, rid, err = hotline.OpenReceipt(n, v); err != nil {
				return unverified("receipts[%d]: %v", i, err)
			}
			f.mark(key)
		}
		if o, err := a.LogOrigin(r.Party); err != nil || o != r.LogOrigin {
			return unverified("receipts[%d] (%s's receipt of %s): it names log %q, not %s's", i, r.Party, r.Message, truncate(r.LogOrigin), r.Party)
		}
		rcpts[i] = receiptFact{message: r.Message, party: r.Party, index: r.LogIndex, id: rid}
		times[i] = r.Received
		return nil
	})
	if err != nil {
		return sum, err
	}
	for i, r := range rcpts {
		d := f.delivery(r.message, r.party)
		d.Receipt = earliest(d.Receipt, times[i])
		f.receipts = append(f.receipts, r)
		if m, ok := f.messages[r.message]; ok {
			have[entryKey{m.From, hotline.ReceiptReceived, r.id}] = true
		}
	}
	sum.Receipts = len(rcpts)

	for i, n := range b.Body.RelayReceipts {
		r, err := hotline.ParseRelayReceipt(noteText(n))
		if err != nil {
			return sum, unverified("relay_receipts[%d]: %v", i, err)
		}
		v, err := ks.signed(r.Relay, hotline.RoleMessage, r.Received, r.Received)
		if err != nil {
			return sum, unverified("relay_receipts[%d] (%s's): %v", i, r.Relay, err)
		}
		if r, err = hotline.OpenRelayReceipt(n, v); err != nil {
			return sum, unverified("relay_receipts[%d]: %v", i, err)
		}
		d := f.delivery(r.Message, r.To)
		d.Relayed = earliest(d.Relayed, r.Received)
	}
	sum.Relayed = len(b.Body.RelayReceipts)

	// Every entry the bundle proves stands for something it carries: an
	// entry without its object is a sign of something removed.
	for i, k := range proven {
		if have[k] {
			continue
		}
		what := map[hotline.Direction]string{hotline.Sent: "the envelope sent", hotline.Received: "the envelope received", hotline.ReceiptReceived: "the receipt"}[k.dir]
		return sum, unverified("inclusion[%d]: %s's log holds an entry for %s %s, which the bundle does not carry (removed?)", i, k.log, what, k.id)
	}
	return sum, nil
}

func (f *facts) delivery(id hotline.ID, party string) *obligations.Delivery {
	k := pairKey{id, party}
	d := f.deliveries[k]
	if d == nil {
		d = &obligations.Delivery{Message: id, Recipient: party}
		f.deliveries[k] = d
	}
	return d
}

func (f *facts) equivocate(owner string, size uint64) {
	if _, ok := f.equivocations[owner]; !ok {
		f.equivocations[owner] = fmt.Sprintf("two checkpoints of size %d with different roots, both witnessed", size)
	}
}

func (f *facts) checkpoint(cp gossip.Verified) {
	k := sizeKey{cp.Owner, cp.Size}
	if h, ok := f.roots[k]; ok && h != cp.Hash {
		f.equivocate(cp.Owner, cp.Size)
		return
	}
	f.roots[k] = cp.Hash
	for _, c := range cp.Cosignatures {
		ck := cosKey{cp.Owner, c.Witness, cp.Size}
		if t, ok := f.cosigs[ck]; !ok || c.Time.Before(t) {
			f.cosigs[ck] = c.Time
		}
	}
}

// monotonic checks that no witness's cosignature timestamps go down as a
// log grows.
func (f *facts) monotonic() error {
	type ws struct{ log, witness string }
	seq := map[ws][]cosKey{}
	for k := range f.cosigs {
		seq[ws{k.log, k.witness}] = append(seq[ws{k.log, k.witness}], k)
	}
	for w, ks := range seq {
		slices.SortFunc(ks, func(a, b cosKey) int { return cmp.Compare(a.size, b.size) })
		for i := 1; i < len(ks); i++ {
			if f.cosigs[ks[i]].Before(f.cosigs[ks[i-1]]) {
				return unverified("witness %s's timestamps go down as %s's log grows: it cosigned size %d at %s and the larger size %d at %s",
					w.witness, w.log, ks[i-1].size, hotline.FormatTime(f.cosigs[ks[i-1]]), ks[i].size, hotline.FormatTime(f.cosigs[ks[i]]))
			}
		}
	}
	return nil
}

// input turns the facts into the engine's input. A log entry counts for a
// neutral time only when its inclusion is proven.
func (f *facts) input() *obligations.Input {
	for _, r := range f.receipts {
		d := f.delivery(r.message, r.party)
		if idx, ok := f.proven[entryKey{r.party, hotline.Received, r.message}]; ok && idx == r.index {
			d.ReceiptLeaf = obligations.Leaf{Log: r.party, Index: idx}
		}
		if m, ok := f.messages[r.message]; ok {
			if idx, ok := f.proven[entryKey{m.From, hotline.ReceiptReceived, r.id}]; ok {
				d.BackLeaf = obligations.Leaf{Log: m.From, Index: idx}
			}
		}
	}
	for k, idx := range f.proven {
		if k.dir != hotline.Received {
			continue
		}
		if m, ok := f.messages[k.id]; ok && slices.Contains(m.To, k.log) {
			if d := f.delivery(k.id, k.log); d.ReceiptLeaf.Log == "" {
				d.ReceiptLeaf = obligations.Leaf{Log: k.log, Index: idx}
			}
		}
	}
	in := &obligations.Input{}
	for _, m := range f.messages {
		in.Messages = append(in.Messages, m)
	}
	slices.SortFunc(in.Messages, func(a, b obligations.Message) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	for _, d := range f.deliveries {
		in.Deliveries = append(in.Deliveries, *d)
	}
	for k, t := range f.cosigs {
		in.Cosignatures = append(in.Cosignatures, obligations.Cosignature{Log: k.log, Witness: k.witness, Size: k.size, Time: t})
	}
	return in
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// parallel runs check(0..n-1) on every core and returns the error of the
// lowest index that failed.
func parallel(n int, check func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := check(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				errs[i] = check(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
