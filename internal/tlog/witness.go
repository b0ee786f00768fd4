package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// WitnessStore keeps, for each log origin, the latest checkpoint a witness
// cosigned: the checkpoint text, the log signatures the witness verified and
// the witness's own cosignature.
type WitnessStore interface {
	// Latest returns the stored checkpoint for origin, or nil and no error
	// if there is none.
	Latest(ctx context.Context, origin string) ([]byte, error)
	// Swap stores next for origin if the stored checkpoint is still prev
	// (nil: none), and returns an error wrapping ErrStale otherwise. next is
	// durable when Swap returns nil. It must be atomic: two witnesses (or
	// replicas) sharing the store must never both succeed from one prev.
	Swap(ctx context.Context, origin string, prev, next []byte) error
}

// ErrStale is returned by WitnessStore.Swap when the stored value is not the
// expected one.
var ErrStale = errors.New("stored checkpoint changed")

// WitnessedLog is a log a witness cosigns: its origin and the keys that may
// sign its checkpoints (several during a key rotation).
type WitnessedLog struct {
	Origin    string
	Verifiers []note.Verifier
}

// WitnessConfig configures a [Witness]. Signer and Store are required.
type WitnessConfig struct {
	// Signer makes the cosignatures: a cosignature/v1 signer from
	// [NewCosigner], whose clock timestamps them.
	Signer note.Signer
	// Logs are the logs this witness cosigns; checkpoints of any other
	// origin get 404.
	Logs []WitnessedLog
	// Store keeps the latest cosigned checkpoint of each log.
	Store WitnessStore
	// Logger receives refusals worth an operator's attention (a log
	// presenting an inconsistent history). Nil discards.
	Logger *slog.Logger
}

// Witness is the server side of C2SP tlog-witness: it cosigns checkpoints
// that extend what it cosigned before. It does not need a log of its own.
type Witness struct {
	signer note.Signer
	store  WitnessStore
	logger *slog.Logger

	mu     sync.RWMutex
	logs   map[string][]note.Verifier
	byHash map[string]string // hex SHA-256 of origin -> origin

	locks sync.Map // origin -> *sync.Mutex
}

// NewWitness returns a witness.
func NewWitness(cfg WitnessConfig) (*Witness, error) {
	if cfg.Signer == nil || cfg.Store == nil {
		return nil, errors.New("tlog: WitnessConfig needs Signer and Store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w := &Witness{signer: cfg.Signer, store: cfg.Store, logger: cfg.Logger.With("witness", cfg.Signer.Name())}
	if err := w.SetLogs(cfg.Logs); err != nil {
		return nil, err
	}
	return w, nil
}

// SetLogs replaces the set of logs the witness cosigns (a new agreement
// version). What it cosigned before is kept.
func (w *Witness) SetLogs(logs []WitnessedLog) error {
	m := make(map[string][]note.Verifier, len(logs))
	byHash := make(map[string]string, len(logs))
	for _, l := range logs {
		if !validName(l.Origin) {
			return fmt.Errorf("tlog: witnessed log origin %q is invalid", l.Origin)
		}
		for _, v := range l.Verifiers {
			if v.Name() != l.Origin {
				return fmt.Errorf("tlog: key %q cannot sign checkpoints of %q", v.Name(), l.Origin)
			}
		}
		m[l.Origin] = append(m[l.Origin], l.Verifiers...)
		byHash[originHash(l.Origin)] = l.Origin
	}
	w.mu.Lock()
	w.logs, w.byHash = m, byHash
	w.mu.Unlock()
	return nil
}

func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// Handler returns the witness's HTTP API, relative to where it is mounted:
//
//	POST /add-checkpoint              (C2SP tlog-witness submission)
//	GET  /<origin hash>/checkpoint    (monitor retrieval)
//
// The node mounts it with
//
//	mux.Handle("/witness/", http.StripPrefix("/witness", w.Handler()))
//
// so that the witness's submission and monitoring prefix is
// https://<node>/witness.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", w.serveAdd)
	mux.HandleFunc("GET /{hash}/checkpoint", w.serveLatest)
	return http.MaxBytesHandler(mux, maxAddCheckpointSize)
}

// maxAddCheckpointSize bounds a request body: 63 proof lines and a note.
const maxAddCheckpointSize = maxNoteSize + 8<<10

// WitnessError is an add-checkpoint refusal: the HTTP status the protocol
// prescribes and, for 409 Conflict, the size of the latest cosigned
// checkpoint.
type WitnessError struct {
	Status int
	Size   uint64 // for 409
	Msg    string
}

func (e *WitnessError) Error() string {
	return fmt.Sprintf("witness: %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

func werr(status int, format string, args ...any) *WitnessError {
	return &WitnessError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func (w *Witness) serveAdd(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	sigs, err := w.AddCheckpoint(r.Context(), body)
	var we *WitnessError
	switch {
	case err == nil:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sigs)
	case errors.As(err, &we) && we.Status == http.StatusConflict:
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", we.Size)
	case errors.As(err, &we):
		http.Error(rw, we.Msg, we.Status)
	default:
		w.logger.Error("add-checkpoint", "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
	}
}

func (w *Witness) serveLatest(rw http.ResponseWriter, r *http.Request) {
	w.mu.RLock()
	origin, ok := w.byHash[r.PathValue("hash")]
	w.mu.RUnlock()
	if !ok {
		http.NotFound(rw, r)
		return
	}
	b, err := w.store.Latest(r.Context(), origin)
	if err != nil {
		w.logger.Error("reading the latest checkpoint", "origin", origin, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	if b == nil {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-cache")
	rw.Write(b)
}

// AddCheckpoint handles one add-checkpoint request body and returns the
// response body (the cosignature lines), or a *WitnessError with the status
// C2SP tlog-witness prescribes, or another error (a store failure).
func (w *Witness) AddCheckpoint(ctx context.Context, body []byte) ([]byte, error) {
	old, prf, signed, err := ParseAddCheckpoint(body)
	if err != nil {
		return nil, werr(http.StatusBadRequest, "%v", err)
	}
	text, _, err := splitNote(signed)
	if err != nil {
		return nil, werr(http.StatusBadRequest, "%v", err)
	}
	origin, _, _ := strings.Cut(string(text), "\n")
	w.mu.RLock()
	vs, ok := w.logs[origin]
	w.mu.RUnlock()
	if !ok {
		return nil, werr(http.StatusNotFound, "unknown log %q", truncate(origin))
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	var inv *note.InvalidSignatureError
	var unv *note.UnverifiedNoteError
	switch {
	case errors.As(err, &inv):
		return nil, werr(http.StatusForbidden, "invalid signature by the log key")
	case errors.As(err, &unv):
		return nil, werr(http.StatusForbidden, "no signature by a known key of %q", truncate(origin))
	case err != nil:
		return nil, werr(http.StatusBadRequest, "malformed checkpoint note: %v", err)
	}
	_, size, root, ext, err := parseCheckpointText([]byte(n.Text))
	if err != nil {
		return nil, werr(http.StatusBadRequest, "%v", err)
	}
	if len(ext) > 0 {
		return nil, werr(http.StatusBadRequest, "checkpoint has extension lines")
	}
	if old > size {
		return nil, werr(http.StatusBadRequest, "old size %d is above the checkpoint size %d", old, size)
	}
	// Keep only the log signatures that verified, then add ours.
	var logSigs []string
	for _, s := range n.Sigs {
		logSigs = append(logSigs, sigLine(s))
	}

	mu, _ := w.locks.LoadOrStore(origin, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	for attempt := 0; ; attempt++ {
		prev, err := w.store.Latest(ctx, origin)
		if err != nil {
			return nil, fmt.Errorf("reading the latest checkpoint of %s: %w", origin, err)
		}
		var prevSize uint64
		var prevRoot [HashSize]byte
		if prev != nil {
			// The store holds what this witness wrote; parse without
			// verifying (the log key may have rotated since).
			ptext, _, err := splitNote(prev)
			if err != nil {
				return nil, fmt.Errorf("stored checkpoint of %s: %w", origin, err)
			}
			if _, prevSize, prevRoot, _, err = parseCheckpointText(ptext); err != nil {
				return nil, fmt.Errorf("stored checkpoint of %s: %w", origin, err)
			}
		}
		if old != prevSize {
			return nil, &WitnessError{Status: http.StatusConflict, Size: prevSize, Msg: fmt.Sprintf("old size %d, cosigned %d", old, prevSize)}
		}
		if size == 0 && root != emptyRoot() {
			return nil, werr(http.StatusUnprocessableEntity, "empty tree with a root other than SHA-256 of nothing")
		}
		switch {
		case old == 0 && len(prf) > 0:
			return nil, werr(http.StatusUnprocessableEntity, "a consistency proof from the empty tree")
		case old == 0:
		case old == size:
			if len(prf) > 0 || root != prevRoot {
				w.logger.Warn("log presented another root at a cosigned size", "origin", origin, "size", size)
				return nil, werr(http.StatusUnprocessableEntity, "size %d was cosigned with another root", size)
			}
		default:
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, size, prf, prevRoot[:], root[:]); err != nil {
				w.logger.Warn("log presented a checkpoint inconsistent with the one cosigned",
					"origin", origin, "old", old, "size", size, "checkpoint", string(n.Text), "err", err)
				return nil, werr(http.StatusUnprocessableEntity, "consistency proof from %d to %d does not verify", old, size)
			}
		}
		cosigned, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
		if err != nil {
			return nil, fmt.Errorf("cosigning: %w", err)
		}
		_, ours, err := splitNote(cosigned)
		if err != nil {
			return nil, err
		}
		next := joinNote([]byte(n.Text), append(logSigs, ours...))
		if err := w.store.Swap(ctx, origin, prev, next); errors.Is(err, ErrStale) && attempt < 3 {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("storing the checkpoint of %s: %w", origin, err)
		}
		return []byte(strings.Join(ours, "\n") + "\n"), nil
	}
}

// FormatAddCheckpoint builds an add-checkpoint request body.
func FormatAddCheckpoint(old uint64, consistency [][]byte, checkpoint []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range consistency {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteByte('\n')
	b.Write(checkpoint)
	return b.Bytes()
}

// ParseAddCheckpoint parses an add-checkpoint request body: the old size,
// the consistency proof and the checkpoint note (not verified).
func ParseAddCheckpoint(body []byte) (old uint64, consistency [][]byte, checkpoint []byte, err error) {
	if len(body) > maxAddCheckpointSize {
		return 0, nil, nil, errors.New("request body too large")
	}
	head, cp, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, errors.New("no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	sz, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return 0, nil, nil, errors.New("first line is not old <size>")
	}
	if old, err = parseDecimal(sz); err != nil {
		return 0, nil, nil, fmt.Errorf("old size: %w", err)
	}
	if len(lines)-1 > 63 {
		return 0, nil, nil, errors.New("more than 63 consistency proof lines")
	}
	for _, l := range lines[1:] {
		h, err := parseHash(l)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("consistency proof: %w", err)
		}
		consistency = append(consistency, h[:])
	}
	if len(cp) == 0 {
		return 0, nil, nil, errors.New("no checkpoint")
	}
	return old, consistency, cp, nil
}

// FileWitnessStore is a [WitnessStore] in a directory: one file per origin,
// replaced atomically (write, fsync, rename, fsync the directory). It is
// safe for concurrent use within one process; do not share the directory
// between processes.
type FileWitnessStore struct {
	dir string
	mu  sync.Mutex
}

var _ WitnessStore = (*FileWitnessStore)(nil)

// NewFileWitnessStore returns a store in dir, creating it if needed.
func NewFileWitnessStore(dir string) (*FileWitnessStore, error) {
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("witness store: %w", err)
	}
	return &FileWitnessStore{dir: dir}, nil
}

func (s *FileWitnessStore) file(origin string) string { return "log-" + originHash(origin) }

// Latest implements [WitnessStore].
func (s *FileWitnessStore) Latest(_ context.Context, origin string) ([]byte, error) {
	return readFileIfExists(filepath.Join(s.dir, s.file(origin)))
}

// Swap implements [WitnessStore].
func (s *FileWitnessStore) Swap(_ context.Context, origin string, prev, next []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := readFileIfExists(filepath.Join(s.dir, s.file(origin)))
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, prev) || (cur == nil) != (prev == nil) {
		return ErrStale
	}
	return writeFileAtomic(s.dir, s.file(origin), next)
}

// CosignatureStore keeps what witnesses returned to a log's collector.
type CosignatureStore interface {
	// Load returns everything stored.
	Load(ctx context.Context) (CosignatureState, error)
	// PutWitness records the latest checkpoint the named witness cosigned
	// (the log's signature and that witness's cosignature), replacing the
	// previous one. It is durable when PutWitness returns nil.
	PutWitness(ctx context.Context, witness string, cosigned []byte) error
	// PutQuorum records the latest checkpoint that met the quorum, with its
	// cosignatures, replacing the previous one; durable on return.
	PutQuorum(ctx context.Context, cosigned []byte) error
}

// CosignatureState is what a CosignatureStore holds.
type CosignatureState struct {
	// Witnesses maps a witness name to the latest checkpoint it cosigned.
	Witnesses map[string][]byte
	// Quorum is the latest checkpoint that met the quorum, or nil.
	Quorum []byte
}

// FileCosignatureStore is a [CosignatureStore] in a directory, one file per
// witness plus one for the quorum checkpoint, each replaced atomically. It
// is safe for concurrent use within one process.
type FileCosignatureStore struct {
	dir string
}

var _ CosignatureStore = (*FileCosignatureStore)(nil)

// NewFileCosignatureStore returns a store in dir, creating it if needed.
func NewFileCosignatureStore(dir string) (*FileCosignatureStore, error) {
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("cosignature store: %w", err)
	}
	return &FileCosignatureStore{dir: dir}, nil
}

const witnessFilePrefix = "witness-"

// Load implements [CosignatureStore].
func (s *FileCosignatureStore) Load(context.Context) (CosignatureState, error) {
	st := CosignatureState{Witnesses: map[string][]byte{}}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return st, err
	}
	for _, de := range des {
		name, ok := strings.CutPrefix(de.Name(), witnessFilePrefix)
		if !ok {
			continue
		}
		w, err := hex.DecodeString(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, de.Name()))
		if err != nil {
			return st, err
		}
		st.Witnesses[string(w)] = b
	}
	if st.Quorum, err = readFileIfExists(filepath.Join(s.dir, "quorum")); err != nil {
		return st, err
	}
	return st, nil
}

// PutWitness implements [CosignatureStore].
func (s *FileCosignatureStore) PutWitness(_ context.Context, witness string, cosigned []byte) error {
	return writeFileAtomic(s.dir, witnessFilePrefix+hex.EncodeToString([]byte(witness)), cosigned)
}

// PutQuorum implements [CosignatureStore].
func (s *FileCosignatureStore) PutQuorum(_ context.Context, cosigned []byte) error {
	return writeFileAtomic(s.dir, "quorum", cosigned)
}

// parseSizeBody parses a text/x.tlog.size body.
func parseSizeBody(b []byte) (uint64, error) {
	s, ok := strings.CutSuffix(string(b), "\n")
	if !ok {
		return 0, errors.New("size body does not end in a newline")
	}
	return parseDecimal(s)
}
