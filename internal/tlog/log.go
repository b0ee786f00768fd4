package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Defaults of [Config].
const (
	DefaultCheckpointInterval = time.Second
	DefaultRepublishInterval  = time.Minute
	DefaultBatchMaxSize       = 256
	DefaultBatchMaxAge        = 50 * time.Microsecond
	DefaultWitnessTimeout     = 10 * time.Second
)

// Config configures a [Log]. Dir, Signer and Verifier are required; every
// other zero value is a documented default.
type Config struct {
	// Dir is the log's folder. Tessera's POSIX files (the public tiles,
	// entry bundles and checkpoint, and its private .state) live in
	// Dir/tessera; unless Cosignatures is set, what witnesses returned lives
	// in Dir/cosignatures.
	Dir string
	// Signer is the log's checkpoint key, an Ed25519 signed-note key whose
	// name is the log's origin.
	Signer note.Signer
	// Verifier is the public half of Signer.
	Verifier note.Verifier

	// Logger receives the log's own messages (not Tessera's: see
	// [RouteKlog]). Nil discards them.
	Logger *slog.Logger
	// Clock is used for the times in witness status. Nil is the system
	// clock. Tessera's timers always run on real time.
	Clock Clock

	// CheckpointInterval is how often a new checkpoint is published while
	// entries arrive. Zero means DefaultCheckpointInterval (one second);
	// Tessera refuses less than 100 ms.
	CheckpointInterval time.Duration
	// RepublishInterval is how often the checkpoint is signed and published
	// again when nothing changed, and how often witnesses are asked to
	// cosign it again (fresh timestamps): the node's heartbeat interval.
	// Zero means DefaultRepublishInterval. It must not be below
	// CheckpointInterval.
	RepublishInterval time.Duration
	// BatchMaxSize and BatchMaxAge bound one of Tessera's batches: it is
	// sequenced and fsynced when it has BatchMaxSize entries or its first
	// entry has waited BatchMaxAge. The Log lets one batch through at a
	// time and gathers what arrives meanwhile into the next (see gate.go),
	// so the age only has to cover the gate handing its entries over (tens
	// of microseconds): beyond that it delays every batch, through a timer
	// goroutine a loaded node schedules late. Zero means
	// DefaultBatchMaxSize (256) and DefaultBatchMaxAge (50 µs). See
	// docs/PERFORMANCE.md.
	BatchMaxSize uint
	BatchMaxAge  time.Duration

	// Authorize, if set, is called for every request to [Log.Handler]
	// before anything is read; it returns true to let the request through,
	// or writes a refusal itself and returns false. Nil serves everyone (a
	// public log). Tiles are then cached as public, else as private.
	Authorize func(w http.ResponseWriter, r *http.Request) bool

	// Policy names the witnesses to ask for cosignatures (their URLs are
	// their tlog-witness submission prefixes) and the quorum. Nil means no
	// witnessing: [Log.Witnessed] is then the latest checkpoint.
	Policy *Policy
	// Self is the name, in Policy, of the witness run by this log's owner.
	// It is never asked and never counts toward the quorum.
	Self string
	// Cosignatures keeps what witnesses returned, durably. Nil means a
	// [FileCosignatureStore] in Dir/cosignatures. Keep it somewhere a restore
	// of Dir from a backup does not roll back (the node's database), so that
	// the never-rewind floor survives.
	Cosignatures CosignatureStore
	// HTTPClient sends requests to witnesses. Nil means a client on
	// http.DefaultTransport.
	HTTPClient *http.Client
	// WitnessTimeout bounds one request to a witness. Zero means
	// DefaultWitnessTimeout.
	WitnessTimeout time.Duration
	// OnEquivocation, if set, is called (from a background goroutine, once
	// per distinct proof) when the collector finds that this log signed two
	// checkpoints that cannot both be true. It must not block for long.
	OnEquivocation func(*Equivocation)
}

// Errors of a [Log].
var (
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("log is closed")
	// ErrRewound is returned by Open, and by Append once a witness proved
	// it, when the log holds fewer entries than a checkpoint some witness
	// cosigned, or a different history: it was restored from an old backup
	// and must be refilled from a mirror, never appended to.
	ErrRewound = errors.New("log is behind what witnesses cosigned")
)

// Log is one node's append-only Merkle log on Tessera's POSIX driver. It is
// safe for concurrent use. Several logs can run in one process.
type Log struct {
	cfg      Config
	origin   string
	tdir     string
	logger   *slog.Logger
	clock    Clock
	verifier note.Verifier

	appender *tessera.Appender
	gate     *gate
	shutdown func(context.Context) error
	reader   tessera.LogReader
	guard    *guardSigner

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines

	mu       sync.RWMutex // guards closed against Append
	closed   bool
	inflight sync.WaitGroup // appends whose future has not resolved
	once     sync.Once
	closeErr error

	halt atomic.Pointer[error] // set when a witness proves the log rewound

	cpMu    sync.Mutex
	latest  *Checkpoint   // last checkpoint read from disk
	changed chan struct{} // closed and replaced when latest changes

	wit *witnessing // nil without a policy
}

// Open opens the log in cfg.Dir, creating it if needed, and starts
// publishing checkpoints and, with a Policy, collecting cosignatures. It
// refuses, with an error wrapping [ErrRewound], a log smaller than, or
// inconsistent with, the largest checkpoint any witness cosigned. It never
// waits for a witness.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Dir == "" || cfg.Signer == nil || cfg.Verifier == nil {
		return nil, errors.New("tlog: Config needs Dir, Signer and Verifier")
	}
	origin := cfg.Signer.Name()
	if cfg.Verifier.Name() != origin || cfg.Verifier.KeyHash() != cfg.Signer.KeyHash() {
		return nil, errors.New("tlog: Verifier is not the public key of Signer")
	}
	if !validName(origin) {
		return nil, fmt.Errorf("tlog: origin %q is not a valid key name", origin)
	}
	probe := checkpointText(origin, 0, emptyRoot())
	if sig, err := cfg.Signer.Sign(probe); err != nil || !cfg.Verifier.Verify(probe, sig) {
		return nil, errors.New("tlog: Verifier does not verify Signer's signatures")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.RepublishInterval == 0 {
		cfg.RepublishInterval = DefaultRepublishInterval
	}
	if cfg.RepublishInterval < cfg.CheckpointInterval {
		return nil, errors.New("tlog: RepublishInterval is below CheckpointInterval")
	}
	if cfg.BatchMaxSize == 0 {
		cfg.BatchMaxSize = DefaultBatchMaxSize
	}
	if cfg.BatchMaxAge == 0 {
		cfg.BatchMaxAge = DefaultBatchMaxAge
	}
	if cfg.WitnessTimeout == 0 {
		cfg.WitnessTimeout = DefaultWitnessTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Policy != nil {
		if err := cfg.Policy.Validate(); err != nil {
			return nil, fmt.Errorf("tlog: %w", err)
		}
		// A misspelt Self would let the owner count toward its own quorum.
		if _, ok := cfg.Policy.Witness(cfg.Self); cfg.Self != "" && !ok {
			return nil, fmt.Errorf("tlog: Self %q is not a witness of the policy", cfg.Self)
		}
	}
	if err := mkdirDurable(cfg.Dir); err != nil {
		return nil, fmt.Errorf("tlog: creating %s: %w", cfg.Dir, err)
	}
	if cfg.Cosignatures == nil {
		s, err := NewFileCosignatureStore(filepath.Join(cfg.Dir, "cosignatures"))
		if err != nil {
			return nil, fmt.Errorf("tlog: %w", err)
		}
		cfg.Cosignatures = s
	}

	l := &Log{
		cfg:      cfg,
		origin:   origin,
		tdir:     filepath.Join(cfg.Dir, "tessera"),
		logger:   cfg.Logger.With("log", origin),
		clock:    cfg.Clock,
		verifier: cfg.Verifier,
		changed:  make(chan struct{}),
	}
	state, err := cfg.Cosignatures.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("tlog: loading cosignatures: %w", err)
	}
	floor, floorWitness, err := l.floorOf(state)
	if err != nil {
		return nil, err
	}
	l.guard = &guardSigner{Signer: cfg.Signer}
	if floor != nil {
		l.guard.floor.Store(floor)
	}

	// Tessera's background work lives until Close, not until ctx is done.
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	driver, err := posix.New(l.ctx, posix.Config{Path: l.tdir, HTTPClient: cfg.HTTPClient})
	if err != nil {
		l.cancel()
		return nil, fmt.Errorf("tlog: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(l.guard).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithCheckpointRepublishInterval(cfg.RepublishInterval).
		WithShutdownTimeout(2*cfg.CheckpointInterval + time.Second)
	l.appender, l.shutdown, l.reader, err = tessera.NewAppender(l.ctx, driver, opts)
	if err != nil {
		l.cancel()
		if refused := l.guard.refused.Load(); refused != nil {
			return nil, fmt.Errorf("tlog: opening %s: %w", origin, *refused)
		}
		return nil, fmt.Errorf("tlog: opening %s: %w", origin, err)
	}
	l.gate = &gate{
		add:  func(e *tessera.Entry) tessera.IndexFuture { return l.appender.Add(l.ctx, e) },
		done: l.inflight.Done,
	}
	if floor != nil {
		if err := l.checkFloor(ctx, floor, floorWitness); err != nil {
			l.cancel()
			return nil, err
		}
	}
	if _, err := l.refresh(); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.cancel()
		return nil, fmt.Errorf("tlog: reading the checkpoint: %w", err)
	}
	l.wg.Add(1)
	go l.watch()
	if cfg.Policy != nil {
		l.wit = newWitnessing(l, state)
		l.wit.start()
	}
	l.logger.Info("log open", "dir", cfg.Dir, "floor", floorSize(floor))
	return l, nil
}

func floorSize(f *Checkpoint) uint64 {
	if f == nil {
		return 0
	}
	return f.Size
}

// floorOf returns the largest checkpoint of this log that a witness cosigned,
// according to the store, and that witness's name.
func (l *Log) floorOf(state CosignatureState) (*Checkpoint, string, error) {
	var floor *Checkpoint
	var who string
	for name, signed := range state.Witnesses {
		cp, _, err := OpenCheckpoint(signed, l.verifier)
		if err != nil {
			return nil, "", fmt.Errorf("tlog: stored cosigned checkpoint of witness %q: %w", name, err)
		}
		if floor == nil || cp.Size > floor.Size {
			floor, who = &cp, name
		}
	}
	return floor, who, nil
}

// checkFloor refuses a log whose tree does not extend floor.
func (l *Log) checkFloor(ctx context.Context, floor *Checkpoint, witness string) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("tlog: reading the tree size: %w", err)
	}
	if size < floor.Size {
		return fmt.Errorf("tlog: %s has %d entries but witness %q cosigned a checkpoint of size %d: %w; refill it from a mirror",
			l.origin, size, witness, floor.Size, ErrRewound)
	}
	cp, err := l.readCheckpoint()
	if err != nil || cp.Size < floor.Size {
		// Integrated but not yet published: the guard signer refuses any
		// checkpoint below the floor or forking at it.
		return nil
	}
	root, err := rootAt(ctx, l.reader.ReadTile, cp.Size, cp.Hash, floor.Size)
	if err != nil {
		return fmt.Errorf("tlog: checking the log against what witness %q cosigned: %w", witness, err)
	}
	if root != floor.Hash {
		return fmt.Errorf("tlog: %s at size %d differs from the checkpoint witness %q cosigned: %w",
			l.origin, floor.Size, witness, ErrRewound)
	}
	return nil
}

// guardSigner signs checkpoints for Tessera, refusing any checkpoint smaller
// than the floor, or of the floor's size with another root: the log never
// signs a checkpoint behind what a witness cosigned.
type guardSigner struct {
	note.Signer
	floor   atomic.Pointer[Checkpoint]
	refused atomic.Pointer[error]
	closed  atomic.Bool // no more checkpoints: Tessera's goroutines outlive Close
}

func (g *guardSigner) Sign(msg []byte) ([]byte, error) {
	if g.closed.Load() {
		return nil, ErrClosed
	}
	_, size, hash, _, err := parseCheckpointText(msg)
	if err != nil {
		return nil, err
	}
	if f := g.floor.Load(); f != nil && (size < f.Size || size == f.Size && hash != f.Hash) {
		err := fmt.Errorf("refusing to sign a checkpoint of size %d: a witness cosigned size %d: %w", size, f.Size, ErrRewound)
		g.refused.Store(&err)
		return nil, err
	}
	return g.Signer.Sign(msg)
}

// raise lifts the floor to cp if it is larger.
func (g *guardSigner) raise(cp Checkpoint) {
	for {
		f := g.floor.Load()
		if f != nil && f.Size >= cp.Size {
			return
		}
		if g.floor.CompareAndSwap(f, &cp) {
			return
		}
	}
}

// Origin returns the log's origin.
func (l *Log) Origin() string { return l.origin }

// Verifier returns the verifier of the log's checkpoint key.
func (l *Log) Verifier() note.Verifier { return l.verifier }

// Append adds a 32-byte entry and returns its index once the entry is
// sequenced and durable (fsynced with the tiles that include it). If ctx
// ends first, Append returns ctx's error and the entry may or may not be in
// the log: reconcile with [Log.EntriesFrom]. Tessera does not deduplicate
// here: the same entry appended twice gets two indexes.
func (l *Log) Append(ctx context.Context, entry [32]byte) (uint64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	if err := l.halt.Load(); err != nil {
		l.mu.RUnlock()
		return 0, *err
	}
	l.inflight.Add(1)
	r := l.gate.append(tessera.NewEntry(entry[:]))
	l.mu.RUnlock()
	select {
	case <-r.ready:
		return l.appended(r.idx, r.err)
	case <-ctx.Done():
		return 0, fmt.Errorf("appending to %s: %w", l.origin, context.Cause(ctx))
	}
}

func (l *Log) appended(idx tessera.Index, err error) (uint64, error) {
	if err != nil {
		return 0, fmt.Errorf("appending to %s: %w", l.origin, err)
	}
	return idx.Index, nil
}

// Close stops accepting appends, waits for those in flight, publishes a
// final checkpoint (waiting at most about two checkpoint intervals), and
// stops every background goroutine, including requests to witnesses. It
// returns promptly whatever the witnesses do.
func (l *Log) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		waited := make(chan struct{})
		go func() { l.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			l.logger.Error("appends still in flight at close")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*l.cfg.CheckpointInterval+2*time.Second)
		if err := l.shutdown(ctx); err != nil {
			l.closeErr = fmt.Errorf("closing %s: publishing the final checkpoint: %w", l.origin, err)
		}
		cancel()
		// Tessera does not wait for its goroutines to stop; refusing to
		// sign keeps a late publication from writing after Close.
		l.guard.closed.Store(true)
		l.cancel()
		l.wg.Wait()
		if l.wit != nil {
			l.wit.wait()
		}
	})
	return l.closeErr
}

// readCheckpoint reads and verifies the published checkpoint from disk.
func (l *Log) readCheckpoint() (Checkpoint, error) {
	b, err := l.reader.ReadCheckpoint(l.ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	cp, _, err := OpenCheckpoint(b, l.verifier)
	return cp, err
}

// refresh reads the published checkpoint and, if it changed, records it and
// wakes whoever waits for a new one.
func (l *Log) refresh() (Checkpoint, error) {
	b, err := l.reader.ReadCheckpoint(l.ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if l.latest != nil && bytes.Equal(l.latest.Note, b) {
		return *l.latest, nil
	}
	cp, _, err := OpenCheckpoint(b, l.verifier)
	if err != nil {
		return Checkpoint{}, err
	}
	l.latest = &cp
	close(l.changed)
	l.changed = make(chan struct{})
	return cp, nil
}

// current returns the last checkpoint seen and a channel closed when a newer
// one is seen.
func (l *Log) current() (*Checkpoint, <-chan struct{}) {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	return l.latest, l.changed
}

// watch notices new checkpoints Tessera publishes.
func (l *Log) watch() {
	defer l.wg.Done()
	every := min(l.cfg.CheckpointInterval/4, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := l.refresh(); err != nil && !errors.Is(err, os.ErrNotExist) && l.ctx.Err() == nil {
			l.logger.Error("reading the published checkpoint", "err", err)
		}
	}
}

// Checkpoint returns the latest published checkpoint, signed by the log
// only.
func (l *Log) Checkpoint() (Checkpoint, error) {
	cp, err := l.refresh()
	if err != nil {
		return Checkpoint{}, fmt.Errorf("reading the checkpoint of %s: %w", l.origin, err)
	}
	return cp, nil
}

// Witnessed returns the latest checkpoint whose cosignatures meet the
// policy's quorum, with those cosignatures, and false if there is none yet.
// Without a policy, or with quorum none, it is the latest checkpoint.
func (l *Log) Witnessed() (Checkpoint, bool) {
	if l.wit == nil || l.cfg.Policy.Quorum == QuorumNone {
		cp, err := l.Checkpoint()
		return cp, err == nil
	}
	return l.wit.witnessed()
}

// Floor returns the size below which the log refuses to go: the largest
// size a witness cosigned.
func (l *Log) Floor() uint64 { return floorSize(l.guard.floor.Load()) }

// Entry is one entry of the log and its index.
type Entry struct {
	Index uint64
	Data  [32]byte
}

// EntriesFrom returns the entries at indexes from size up to the end of the
// tree as sequenced when it is called, including entries not yet in a
// published checkpoint: every Append that returned an index is there. It
// is for reconciling a node's pending rows at start-up.
func (l *Log) EntriesFrom(ctx context.Context, size uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		end, err := l.reader.IntegratedSize(ctx)
		if err != nil {
			yield(Entry{}, fmt.Errorf("reading the tree size: %w", err))
			return
		}
		for i := size; i < end; {
			bundle := i / layout.EntryBundleWidth
			p := layout.PartialTileSize(0, bundle, end)
			raw, err := l.reader.ReadEntryBundle(ctx, bundle, p)
			if err != nil {
				yield(Entry{}, fmt.Errorf("reading entry bundle %d: %w", bundle, err))
				return
			}
			entries, err := parseBundle(raw)
			if err != nil {
				yield(Entry{}, fmt.Errorf("entry bundle %d: %w", bundle, err))
				return
			}
			first := bundle * layout.EntryBundleWidth
			for ; i < end && i-first < uint64(len(entries)); i++ {
				e := entries[i-first]
				if len(e) != 32 {
					yield(Entry{}, fmt.Errorf("entry %d has %d bytes, want 32", i, len(e)))
					return
				}
				if !yield(Entry{Index: i, Data: [32]byte(e)}, nil) {
					return
				}
			}
			if i < end && i-first < layout.EntryBundleWidth {
				yield(Entry{}, fmt.Errorf("entry bundle %d is short", bundle))
				return
			}
		}
	}
}

// publishedSize returns the size of the published checkpoint.
func (l *Log) publishedSize() (uint64, error) {
	cp, err := l.Checkpoint()
	return cp.Size, err
}

// InclusionProof returns the RFC 6962 inclusion proof of the entry at index
// in the tree of the given size, which must not exceed the published
// checkpoint's.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	pub, err := l.publishedSize()
	if err != nil {
		return nil, err
	}
	if index >= size || size > pub {
		return nil, fmt.Errorf("inclusion proof of %d in a tree of size %d: want index < size ≤ %d", index, size, pub)
	}
	pb, err := client.NewProofBuilder(ctx, size, l.reader.ReadTile)
	if err != nil {
		return nil, err
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes old ≤ new, new not exceeding the published checkpoint's.
func (l *Log) ConsistencyProof(ctx context.Context, old, new uint64) ([][]byte, error) {
	pub, err := l.publishedSize()
	if err != nil {
		return nil, err
	}
	if old > new || new > pub {
		return nil, fmt.Errorf("consistency proof from %d to %d: want old ≤ new ≤ %d", old, new, pub)
	}
	return l.consistency(ctx, old, new)
}

func (l *Log) consistency(ctx context.Context, old, new uint64) ([][]byte, error) {
	if old == 0 || old == new {
		return [][]byte{}, nil
	}
	pb, err := client.NewProofBuilder(ctx, new, l.reader.ReadTile)
	if err != nil {
		return nil, err
	}
	p, err := pb.ConsistencyProof(ctx, old, new)
	if err != nil {
		return nil, fmt.Errorf("consistency proof from %d to %d: %w", old, new, err)
	}
	return p, nil
}

// Prove returns the C2SP tlog-proof that the entry at index is in the tree of
// cp, a checkpoint of this log (for example [Log.Witnessed]'s, whose
// cosignatures it carries). It checks the proof before returning it.
func (l *Log) Prove(ctx context.Context, index uint64, cp Checkpoint) (*Proof, error) {
	if cp.Origin != l.origin {
		return nil, fmt.Errorf("checkpoint of %q, not of %q", cp.Origin, l.origin)
	}
	hashes, err := l.InclusionProof(ctx, index, cp.Size)
	if err != nil {
		return nil, err
	}
	lh, err := client.FetchLeafHashes(ctx, l.reader.ReadTile, index, 1, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("reading leaf %d: %w", index, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, lh[0], hashes, cp.Hash[:]); err != nil {
		return nil, fmt.Errorf("the log's tiles do not match checkpoint %d: %w", cp.Size, err)
	}
	return &Proof{Index: index, Hashes: hashes, Checkpoint: bytes.Clone(cp.Note)}, nil
}

// ProveEquivocation checks a checkpoint signed with this log's key (seen
// elsewhere: gossip, a witness) against the log. It returns nil and an error
// wrapping ErrNotEquivocation if the two are consistent, and a proof if they
// cannot both be true. A checkpoint larger than the log cannot be checked
// here (the log lacks its tiles) and gives an error wrapping ErrRewound.
func (l *Log) ProveEquivocation(ctx context.Context, other []byte) (*Equivocation, error) {
	o, _, err := OpenCheckpoint(other, l.verifier)
	if err != nil {
		return nil, err
	}
	cp, err := l.Checkpoint()
	if err != nil {
		return nil, err
	}
	if o.Size > cp.Size {
		return nil, fmt.Errorf("checkpoint of size %d is ahead of the log's %d: %w", o.Size, cp.Size, ErrRewound)
	}
	return proveEquivocation(ctx, l.verifier, other, cp.Note, l.reader.ReadTile)
}
