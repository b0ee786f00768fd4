// Package server runs a node folder as one process: it opens the keys, the
// agreement, the store and the log of a folder made by [Init] (or by
// hotline testnet), and serves on two listeners. The peer listener (the
// config's listen, the port peers reach) serves the peer API (/v1/), the
// node's log (/log/), its witness (/witness/), /healthz and /readyz, and
// nothing else. The operator listener (operator_listen: a unix socket in
// the folder by default, or a loopback address) serves the operator API
// (/api/v1/), /metrics and /debug/pprof/, with /healthz and /readyz; see
// [Operator]. It is what hotline serve runs, and what end-to-end tests and
// the demo run in-process.
//
// # Start-up order
//
// The listener opens first with /healthz, /readyz and the witness, which
// needs nothing of the node's own log: peers can have their checkpoints
// cosigned while this node starts. Then the store, the log (which may wait
// for nothing from witnesses) and the node, which resolves pending log
// entries; only then do the other routes answer (503 before) and /readyz
// turn 200.
//
// # Shutdown
//
// [Server.Serve] returns when its context ends: the listener stops
// accepting, requests in flight finish (up to ShutdownTimeout), delivery
// stops after its attempts in flight, the log and the store close.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/chain"
	"github.com/hotline-net/hotline/internal/fedapi"
	"github.com/hotline-net/hotline/internal/gossip"
	"github.com/hotline-net/hotline/internal/inclusion"
	"github.com/hotline-net/hotline/internal/node"
	"github.com/hotline-net/hotline/internal/opapi"
	"github.com/hotline-net/hotline/internal/outbox"
	"github.com/hotline-net/hotline/internal/relay"
	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/sqlite"
	"github.com/hotline-net/hotline/internal/tlog"
	"github.com/hotline-net/hotline/internal/watch"
)

// Options are what the caller of [Open] decides beyond the folder.
type Options struct {
	// Bodies checks message bodies against their templates. Required.
	Bodies node.BodyChecker
	// Clock defaults to the system clock.
	Clock node.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on the config's
	// address (tests pass one on 127.0.0.1:0).
	Listener net.Listener
	// Database overrides the config's database (a postgres:// URL).
	Database string
	// OpenStore, if set, opens the store instead of SQLite in the folder
	// (the postgres backend, or a fault-injecting one in tests).
	OpenStore func(ctx context.Context, cfg *Config) (store.Store, error)
	// ShutdownTimeout bounds how long Serve waits for requests in flight.
	// Zero means 10 s.
	ShutdownTimeout time.Duration
	// BeforeAppend is the node's fault-injection point for crash tests
	// (see node.Config); nil in production.
	BeforeAppend func(dir hotline.Direction, id hotline.ID)
	// FailWrites, if set, is the store's fault-injection hook
	// (sqlstore.Config.FailWrites): while it returns an error wrapping
	// ENOSPC, every write of the store fails as on a full disk
	// (store.ErrStorageFull); reads go on. hotline serve sets it from
	// HOTLINE_FAULT_STORE_FULL; nil in production. Not used with
	// OpenStore.
	FailWrites func() error
	// DeliveryTransport, if set, wraps the transport delivery posts
	// envelopes with: a fault-injection point for tests, nil in
	// production.
	DeliveryTransport func(outbox.Transport) outbox.Transport
	// Timeouts bound how long the server waits on a client.
	Timeouts Timeouts
}

// Timeouts bound how long the server waits on a client, so that slow
// clients cannot hold the node's connections. Zero fields are defaults.
type Timeouts struct {
	// ReadHeader: for the request's headers. Default 10 s.
	ReadHeader time.Duration
	// Read: for the whole request, body included. Default 2 min (a 16 MiB
	// envelope over a slow link).
	Read time.Duration
	// Write: for the response. Default 2 min.
	Write time.Duration
	// Idle: between requests on a kept-alive connection. Default 2 min.
	Idle time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	if t.ReadHeader <= 0 {
		t.ReadHeader = 10 * time.Second
	}
	if t.Read <= 0 {
		t.Read = 2 * time.Minute
	}
	if t.Write <= 0 {
		t.Write = 2 * time.Minute
	}
	if t.Idle <= 0 {
		t.Idle = 2 * time.Minute
	}
	return t
}

// Server is a running node folder.
type Server struct {
	dir    string
	cfg    *Config
	opts   Options
	logger *slog.Logger

	keys       *hotline.KeySet
	agr        *agreement.Agreement
	witness    *tlog.Witness
	store      store.Store
	log        *tlog.Log
	node       *node.Node
	deliverer  *outbox.Deliverer
	heartbeats *gossip.Heartbeats
	chain      *chain.Holder
	relay      *relay.Relay
	puller     *relay.Puller
	inclusion  *inclusion.Checker
	mirror     *mirror
	watcher    *watch.Watcher
	client     *fedapi.Client
	cosigs     *storeCosignatures
	remotesMu  sync.Mutex
	remotes    map[string]*tlog.Remote
	alarms     prometheus.Counter
	kick       chan struct{}
	registry   *prometheus.Registry

	ln   net.Listener
	http *http.Server
	// opHTTP serves the operator listener, once the node is ready.
	opHTTP *http.Server
	opWG   sync.WaitGroup
	// fresh holds connections that have not yet sent a request: Shutdown
	// waits 5 s for those before it counts them idle, so Serve closes them.
	freshMu  sync.Mutex
	fresh    map[net.Conn]bool
	ready    atomic.Bool
	app      atomic.Pointer[http.Handler]
	serveWG  sync.WaitGroup
	serveMu  sync.Mutex
	serveErr error
}

// Open opens the node folder dir and starts listening. The node answers
// /healthz and its witness at once, and everything else once it is ready;
// Open returns when it is. Call Serve to run it.
func Open(ctx context.Context, dir string, opts Options) (_ *Server, err error) {
	if opts.Bodies == nil {
		return nil, errors.New("server: Options.Bodies is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	if opts.Database != "" {
		cfg.Database = opts.Database
	}
	s := &Server{dir: dir, cfg: cfg, opts: opts, logger: slog.New(storageFullWarns{opts.Logger.Handler()}).With("party", cfg.Party),
		kick: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()

	if s.keys, err = hotline.LoadKeySet(filepath.Join(dir, KeysDir)); err != nil {
		return nil, err
	}
	if s.keys.Party != cfg.Party {
		return nil, fmt.Errorf("the keys in %s are %s's, the config says %s", filepath.Join(dir, KeysDir), s.keys.Party, cfg.Party)
	}
	if s.agr, err = agreement.Load(path(dir, cfg.Agreement)); err != nil {
		return nil, fmt.Errorf("loading the agreement: %s%w", codePrefix(err), err)
	}
	if err := s.agr.Verify(); err != nil {
		return nil, fmt.Errorf("verifying the agreement: %w", err)
	}
	token, err := AdminToken(dir)
	if err != nil {
		return nil, err
	}

	if s.witness, err = s.openWitness(); err != nil {
		return nil, err
	}
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.ln = opts.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, err
		}
	}
	s.startHTTP()

	if s.store, err = s.openStore(ctx); err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	s.registerStoreMetrics()
	if err := s.recordAgreement(ctx); err != nil {
		return nil, err
	}
	if s.log, err = s.openLog(ctx); err != nil {
		return nil, fmt.Errorf("opening the log: %w", err)
	}
	s.node, err = node.New(ctx, node.Config{
		Keys:         s.keys,
		Agreement:    s.agr,
		Store:        s.store,
		Log:          s.log,
		Bodies:       opts.Bodies,
		Clock:        opts.Clock,
		Logger:       s.logger,
		Limits:       hotline.Limits{MaxEnvelope: cfg.MaxEnvelope},
		Metrics:      node.NewMetrics(s.registry),
		BeforeAppend: opts.BeforeAppend,
		// Counted with the equivocations (s.alarms is set before the
		// node serves anyone).
		OnSequenceConflict: func(*hotline.SequenceConflict) { s.alarms.Inc() },
	})
	if err != nil {
		return nil, err
	}
	if s.agr.Latest().Depositary().ID == cfg.Party {
		if err := chain.LogDocuments(ctx, s.store, s.log, s.agr, s.logger); err != nil {
			return nil, fmt.Errorf("logging the agreement's documents: %w", err)
		}
	}
	s.node.OnSent(s.kick)
	if err := s.startPeers(); err != nil {
		return nil, err
	}
	if s.watcher, err = watch.New(watch.Config{
		Source: watch.NodeSource{Store: s.store, Self: cfg.Party, Agreement: s.node.Agreement}, Values: s.store, Interval: time.Duration(cfg.WatchInterval),
		Resend: s.deliverer.ResendViaRelay, Dir: dir, Clock: opts.Clock, Logger: s.logger, Registerer: s.registry,
	}); err != nil {
		return nil, err
	}

	if err := s.startOperator(token); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	logHandler := s.log.Handler()
	mux.Handle("/", fedapi.Handler(fedapi.Config{Node: s.node, Log: logHandler, Witness: s.witness.Handler(), Heartbeats: s.heartbeats, Relay: s.relay, Agreement: s.chain,
		// Copies of peers' logs go to parties only, whatever this
		// node's own log is: a log its owner keeps private stays so.
		Mirror:    s.mirror.m.Handler(s.authorizeLogReader),
		RateLimit: fedapi.RateLimit{PerSecond: cfg.RateLimit.PerSecond, Burst: cfg.RateLimit.Burst}}))
	var h http.Handler = mux
	s.app.Store(&h)
	s.ready.Store(true)
	s.logger.Info("node ready", "url", s.URL(), "agreement_version", s.agr.Latest().Number(), "log", s.log.Origin())
	return s, nil
}

// startOperator serves the operator listener: the operator API, metrics
// and pprof, with /healthz and /readyz.
func (s *Server) startOperator(token string) error {
	ln, err := listenOperator(s.dir, s.cfg)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	agreementAPI := adminOnly(token, s.chain.OperatorHandler())
	mux.Handle("POST /api/v1/agreement/documents", agreementAPI)
	mux.Handle("GET /api/v1/agreement", agreementAPI)
	mux.Handle("/api/v1/", opapi.Handler(opapi.Config{Node: s.node, Tokens: map[string]opapi.Role{token: opapi.Admin}, Peers: s.heartbeats, Watch: s.watcher}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.Handle("/debug/pprof/", adminOnly(token, http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/profile", adminOnly(token, http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/trace", adminOnly(token, http.HandlerFunc(pprof.Trace)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	to := s.opts.Timeouts.withDefaults()
	s.opHTTP = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: to.ReadHeader,
		ReadTimeout:       to.Read,
		WriteTimeout:      to.Write,
		IdleTimeout:       to.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	tls := s.cfg.TLSCert != "" && ln.Addr().Network() == "tcp"
	s.opWG.Go(func() {
		var err error
		if tls {
			err = s.opHTTP.ServeTLS(ln, path(s.dir, s.cfg.TLSCert), path(s.dir, s.cfg.TLSKey))
		} else {
			err = s.opHTTP.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.serveMu.Lock()
			s.serveErr = err
			s.serveMu.Unlock()
		}
	})
	return nil
}

// adminOnly admits requests bearing the admin token: Go's profiles show
// what the node is doing, which is for its operators only.
func adminOnly(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "the admin token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// startHTTP serves the listener: /healthz, /readyz and the witness at once,
// the rest once the node is ready.
func (s *Server) startHTTP() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/witness/", http.StripPrefix("/witness", s.witness.Handler()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := s.app.Load()
		if h == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	})
	to := s.opts.Timeouts.withDefaults()
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: to.ReadHeader,
		ReadTimeout:       to.Read,
		WriteTimeout:      to.Write,
		IdleTimeout:       to.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, st http.ConnState) {
			s.freshMu.Lock()
			defer s.freshMu.Unlock()
			if st == http.StateNew {
				s.fresh[c] = true
			} else {
				delete(s.fresh, c)
			}
		},
	}
	s.fresh = map[net.Conn]bool{}
	s.serveWG.Go(func() {
		var err error
		if s.cfg.TLSCert != "" {
			err = s.http.ServeTLS(s.ln, path(s.dir, s.cfg.TLSCert), path(s.dir, s.cfg.TLSKey))
		} else {
			err = s.http.Serve(s.ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.serveMu.Lock()
			s.serveErr = err
			s.serveMu.Unlock()
		}
	})
}

// readyz answers 200 only while the node is ready and its store and log
// answer. A node whose store cannot take writes (a full disk) stays
// ready: it still serves its log, its witness, heartbeats' reads and its
// operators' reads, which taking it out of a load balancer would hide
// too, and it refuses each write itself with 503 storage_full and
// Retry-After (hotline_store_storage_full says so).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.HighWater(ctx); err != nil {
		http.Error(w, "store unusable", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.log.Checkpoint(); err != nil {
		http.Error(w, "log unusable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) openWitness() (*tlog.Witness, error) {
	signer, err := tlog.NewCosigner(s.keys.Witness.String(), s.opts.Clock)
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	ws, err := tlog.NewFileWitnessStore(filepath.Join(s.dir, WitnessDir))
	if err != nil {
		return nil, err
	}
	logs, err := witnessedLogs(s.agr, s.cfg.Party)
	if err != nil {
		return nil, err
	}
	return tlog.NewWitness(tlog.WitnessConfig{Signer: signer, Logs: logs, Store: ws, Logger: s.logger})
}

// witnessedLogs lists every other party's log with all its checkpoint keys.
func witnessedLogs(agr *agreement.Agreement, self string) ([]tlog.WitnessedLog, error) {
	var logs []tlog.WitnessedLog
	for _, p := range agr.Parties() {
		if p.ID == self {
			continue
		}
		origin, err := agr.LogOrigin(p.ID)
		if err != nil {
			continue // a party without a directory entry has no log yet
		}
		keys, err := agr.Keys(p.ID, hotline.RoleCheckpoint)
		if err != nil {
			return nil, err
		}
		wl := tlog.WitnessedLog{Origin: origin}
		for _, k := range keys {
			v, err := hotline.NewVerifier(k.Key)
			if err != nil {
				return nil, fmt.Errorf("%s's checkpoint key: %w", p.ID, err)
			}
			wl.Verifiers = append(wl.Verifiers, v)
		}
		logs = append(logs, wl)
	}
	return logs, nil
}

func (s *Server) openStore(ctx context.Context) (store.Store, error) {
	if s.opts.OpenStore != nil {
		return s.opts.OpenStore(ctx, s.cfg)
	}
	if s.cfg.Database != "" {
		// One schema per party, so that several nodes may share a server.
		return postgres.Open(ctx, postgres.Config{URL: s.cfg.Database, Schema: "hotline_" + strings.ToLower(strings.ReplaceAll(s.cfg.Party, "-", "_")),
			Logger: s.logger, FailWrites: s.opts.FailWrites})
	}
	name := filepath.Join(s.dir, DatabaseFile)
	if err := privateFiles(name, name+"-wal", name+"-shm"); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, sqlite.Config{Path: name, Logger: s.logger, FailWrites: s.opts.FailWrites})
}

// privateFiles makes the first file exist with mode 0600, and the others,
// where they exist, 0600 too: the SQLite store holds decrypted bodies, and
// SQLite creates its -wal and -shm files with the database file's mode.
func privateFiles(first string, others ...string) error {
	f, err := os.OpenFile(first, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, name := range append([]string{first}, others...) {
		if err := os.Chmod(name, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("making %s private: %w", name, err)
		}
	}
	return nil
}

// recordAgreement checks the agreement file against the chain the node
// holds (the store value chain.ChainKey) and records the chain it runs on.
// A file that extends the held chain is taken as it is. A file that lacks
// documents the node holds — older, or written before the node took
// documents in at runtime — changes nothing of them: the node runs on the
// held chain with whatever the file adds, so a rollback of the file has no
// effect. A file that contradicts the held chain (a fork, a rewritten
// document) is refused, naming what differs: a node only moves forward.
func (s *Server) recordAgreement(ctx context.Context) error {
	held, err := s.heldAgreement(ctx)
	if err != nil {
		return err
	}
	if held != nil {
		if err := s.agr.Extends(held); err != nil {
			merged, merr := s.agr.Merge(held)
			if merr == nil {
				merr = merged.Extends(held)
			}
			if merr != nil {
				return fmt.Errorf("the agreement file does not extend the chain this node holds: %s%w", codePrefix(merr), merr)
			}
			s.logger.Warn("the agreement file lacks documents this node holds; running on the chain held, with what the file adds", "file_lacks", err.Error())
			s.agr = merged
		}
	}
	latest := s.agr.Latest()
	cur, err := s.store.Agreement(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case cur.Version > latest.Number():
		return fmt.Errorf("the agreement file holds version %d, older than version %d in force at this node", latest.Number(), cur.Version)
	}
	raw := s.agr.Marshal()
	if err := s.store.SetAgreement(ctx, &store.Agreement{
		Version: latest.Number(), Hash: latest.Hash(), Raw: raw, At: s.now(),
	}); err != nil {
		return err
	}
	return s.store.SetValue(ctx, chain.ChainKey, raw)
}

// DocumentsKey is the store value under which the depositary's node keeps
// the log index of each agreement document it logged (chain.DocumentsKey).
const DocumentsKey = chain.DocumentsKey

// LoggedDocuments returns the log index of each agreement document the
// depositary's node logged, by the document's hash.
func LoggedDocuments(ctx context.Context, st store.Store) (map[hotline.ID]uint64, error) {
	return chain.LoggedDocuments(ctx, st)
}

// codePrefix is "code: " for an agreement refusal, so that an operator
// reading why the node did not start sees the stable code too.
func codePrefix(err error) string {
	if c := agreement.ErrorCode(err); c != "" {
		return c + ": "
	}
	return ""
}

// heldAgreement returns the chain the node holds: the one recorded under
// chain.ChainKey, else (a node that ran before it kept one) the file recorded
// with the latest version, else nil.
func (s *Server) heldAgreement(ctx context.Context) (*agreement.Agreement, error) {
	raw, err := s.store.Value(ctx, chain.ChainKey)
	if errors.Is(err, store.ErrNotFound) {
		cur, err := s.store.Agreement(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		raw = cur.Raw
	} else if err != nil {
		return nil, err
	}
	held, err := agreement.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the agreement chain this node holds does not parse: %w", err)
	}
	return held, nil
}

// now is the node's clock, also before the node exists.
func (s *Server) now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock.Now()
	}
	return time.Now()
}

func (s *Server) openLog(ctx context.Context) (*tlog.Log, error) {
	s.cosigs = &storeCosignatures{st: s.store}
	cfg := tlog.Config{
		Dir:                filepath.Join(s.dir, LogDir),
		Signer:             s.keys.Checkpoint,
		Logger:             s.logger,
		Clock:              s.opts.Clock,
		CheckpointInterval: time.Duration(s.cfg.CheckpointInterval),
		RepublishInterval:  time.Duration(s.cfg.HeartbeatInterval),
		Self:               s.cfg.Party, // the policy names witnesses by party id
		Cosignatures:       s.cosigs,
		OnEquivocation: func(e *tlog.Equivocation) {
			// A witness holds a view of this node's own log that the log
			// does not extend: keep the proof, raise the alarm.
			s.recordEquivocation(e)
		},
	}
	if cfg.RepublishInterval == 0 {
		cfg.RepublishInterval = time.Minute
	}
	v, err := s.keys.Checkpoint.Verifier()
	if err != nil {
		return nil, err
	}
	cfg.Verifier = v
	if pol, err := s.witnessPolicy(); err != nil {
		s.logger.Warn("no witness policy: checkpoints will not be cosigned", "err", err)
	} else {
		cfg.Policy = pol
	}
	if !s.cfg.LogPublic {
		cfg.Authorize = s.authorizeLogReader
	}
	return tlog.Open(ctx, cfg)
}

// witnessPolicy is the agreement's witness policy with each witness's
// submission URL: its first endpoint plus /witness.
func (s *Server) witnessPolicy() (*tlog.Policy, error) {
	now := s.now()
	v, err := s.agr.Current(now)
	if err != nil {
		return nil, err
	}
	text, err := s.agr.WitnessPolicy(v, now)
	if err != nil {
		return nil, err
	}
	pol, err := tlog.ParsePolicy([]byte(text))
	if err != nil {
		return nil, err
	}
	for i, w := range pol.Witnesses {
		eps, err := s.agr.Endpoints(w.Name)
		if err != nil || len(eps) == 0 {
			continue
		}
		pol.Witnesses[i].URL = eps[0] + "/witness"
	}
	return pol, pol.Validate()
}

// authorizeLogReader admits parties' signed requests to a log that is not
// public.
func (s *Server) authorizeLogReader(w http.ResponseWriter, r *http.Request) bool {
	keys := func(party string, t time.Time) (note.Verifier, error) {
		return s.agr.MessageKey(party, t)
	}
	var err error
	if v, _ := fedapi.RequestVersion(r); v == 1 && (speaksOnlyV1(s.node.Agreement(), r.Header.Get(fedapi.HeaderFrom)) || speaksOnlyV1(s.node.Agreement(), s.cfg.Party)) {
		_, err = fedapi.AuthenticateV1(r, nil, s.cfg.Party, keys, s.now())
	} else {
		var signed *fedapi.Signed
		signed, err = fedapi.Authenticate(r, s.cfg.Party, keys, s.now())
		if err == nil {
			err = signed.CheckBody(nil) // a log read has no body
		}
	}
	if err != nil {
		http.Error(w, "the log is served to the agreement's parties only: "+err.Error(), http.StatusUnauthorized)
		return false
	}
	return true
}

// speaksOnlyV1 reports whether party's directory entry lists protocol
// version 1 and not 2 (a node not yet upgraded).
func speaksOnlyV1(agr *agreement.Agreement, party string) bool {
	ps, err := agr.Protocols(party)
	return err == nil && slices.Contains(ps, 1) && !slices.Contains(ps, 2)
}

// CloseIdleConnections closes the idle keep-alive connections of the
// node's client to its peers (and to itself).
func (s *Server) CloseIdleConnections() {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// URL returns the base URL the node serves on.
func (s *Server) URL() string {
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String()
}

// startPeers builds what talks to peers: delivery (with relay fallback),
// heartbeats, the relay, the relay puller and the inclusion checker.
func (s *Server) startPeers() error {
	cfg, opts := s.cfg, s.opts
	workers := cfg.Delivery.Workers
	if workers <= 0 {
		workers = 16 // outbox's default
	}
	// Room for every delivery worker, the relay's push and heartbeats to
	// one peer at once.
	s.client = &fedapi.Client{Key: s.keys.Message, Now: s.node.Clock().Now, ConnsPerPeer: workers + 8,
		// The highest version both speak, from the peer's directory
		// entry as the node holds it now.
		Protocols: func(party string) []uint64 {
			ps, err := s.node.Agreement().Protocols(party)
			if err != nil {
				return nil
			}
			return ps
		}}
	s.remotes = map[string]*tlog.Remote{}
	s.alarms = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hotline_equivocations_total", Help: "Equivocation proofs found (a log showed two histories, a party signed two agreement documents for one place, or a sender broke its sequence).",
	})
	s.registry.MustRegister(s.alarms)
	agr := s.node.Agreement
	endpoints := func(p string) ([]string, error) { return agr().Endpoints(p) }
	heartbeat := time.Duration(cfg.HeartbeatInterval)
	if heartbeat <= 0 {
		heartbeat = time.Minute
	}
	var transport outbox.Transport = s.client
	if opts.DeliveryTransport != nil {
		transport = opts.DeliveryTransport(transport)
	}
	var err error
	s.deliverer, err = outbox.New(outbox.Config{
		Store:      s.store,
		Recorder:   s.node,
		Transport:  transport,
		Endpoints:  endpoints,
		Kick:       s.kick,
		Clock:      opts.Clock,
		Logger:     s.logger,
		Workers:    cfg.Delivery.Workers,
		MinBackoff: time.Duration(cfg.Delivery.MinBackoff),
		MaxBackoff: time.Duration(cfg.Delivery.MaxBackoff),
		AlertAfter: time.Duration(cfg.Delivery.AlertAfter),
		RelayAfter: time.Duration(cfg.Delivery.RelayAfter),
		Relays: func() []string {
			v, err := agr().Current(s.node.Clock().Now())
			if err != nil {
				return nil
			}
			return v.Relays()
		},
		RelayClient: s.client,
	})
	if err != nil {
		return err
	}
	agreementAlarms := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotline_agreement_alarms_total",
		Help: "Agreement documents a party signed that this node refused (kind refused), and forks proven (kind fork).",
	}, []string{"kind"})
	s.registry.MustRegister(agreementAlarms)
	s.chain, err = chain.New(chain.Config{
		Self: cfg.Party, Node: s.node, Store: s.store, Log: s.log, Transport: s.client,
		Clock: opts.Clock, Logger: s.logger,
		OnAlarm: func(kind string) { agreementAlarms.WithLabelValues(kind).Inc() },
	})
	if err != nil {
		return err
	}
	clockOffset := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hotline_peer_clock_offset_seconds",
		Help: "Each peer's clock minus this node's, as last measured from heartbeat times (within half the round trip).",
	}, []string{"peer"})
	skewAlarms := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotline_clock_skew_alarms_total",
		Help: "Clock skew alarms: a peer's clock measured beyond the 5 min request window from this node's, once per episode per peer.",
	}, []string{"peer"})
	s.registry.MustRegister(clockOffset, skewAlarms)
	s.heartbeats, err = gossip.NewHeartbeats(gossip.HeartbeatConfig{
		Key: s.keys.Message, Agreement: agr, Store: s.store, Log: s.log, Transport: s.client,
		RemoteLog: s.remote, Clock: opts.Clock, Logger: s.logger, Interval: heartbeat,
		OnEquivocation: func(*tlog.Equivocation) { s.alarms.Inc() },
		// Consistency that cannot be proven is the same alarm.
		OnUnproven: func(gossip.Alarm) { s.alarms.Inc() },
		SyncAgreement: func(ctx context.Context, peer string) {
			if got, gave, err := s.chain.Sync(ctx, peer); err != nil {
				s.logger.Info("agreement sync failed", "peer", peer, "err", err)
			} else if got+gave > 0 {
				s.logger.Info("agreement documents exchanged", "peer", peer, "got", got, "gave", gave)
			}
		},
		OnHeard: func(ctx context.Context, peer string) {
			if _, err := s.deliverer.Heard(ctx, peer); err != nil && ctx.Err() == nil {
				s.logger.Error("making a returning peer's backlog due", "peer", peer, "err", err)
			}
		},
		OnClockOffset: func(peer string, offset time.Duration) { clockOffset.WithLabelValues(peer).Set(offset.Seconds()) },
		OnClockSkew:   func(a gossip.Alarm) { skewAlarms.WithLabelValues(a.Peer).Inc() },
	})
	if err != nil {
		return err
	}
	// This node's own quorum checkpoints are kept with every cosignature,
	// as its peers' are.
	if err := s.cosigs.keepHistory(context.Background(), s.heartbeats.Observe); err != nil {
		return err
	}
	s.relay, err = relay.New(relay.Config{
		Key: s.keys.Message, Agreement: agr, Store: s.store, Transport: s.client,
		Clock: opts.Clock, Logger: s.logger, PushEvery: time.Duration(cfg.Delivery.RelayPush),
		Limits: hotline.Limits{MaxEnvelope: cfg.MaxEnvelope},
	})
	if err != nil {
		return err
	}
	s.puller, err = relay.NewPuller(relay.PullerConfig{
		Self: cfg.Party, Agreement: agr, Store: s.store, Client: s.client, Node: s.node,
		Clock: opts.Clock, Logger: s.logger, Every: time.Duration(cfg.Delivery.RelayPull),
	})
	if err != nil {
		return err
	}
	s.inclusion, err = inclusion.New(inclusion.Config{
		Store: s.store, Agreement: agr, Remote: s.remote, Clock: opts.Clock, Logger: s.logger, Every: heartbeat,
		// Only witnessed checkpoints count; what the checker fetches goes
		// to gossip, which compares it and believes it only if witnessed.
		Witnessed: func(ctx context.Context, party string) (tlog.Checkpoint, bool, error) {
			v, ok, err := s.heartbeats.Witnessed(ctx, party)
			return v.Checkpoint, ok, err
		},
		Observe: s.heartbeats.Observe,
	})
	if err != nil {
		return err
	}
	return s.startMirror(heartbeat)
}

// remote returns a reader of a party's log, at its first endpoint.
func (s *Server) remote(party string) (*tlog.Remote, error) {
	agr := s.node.Agreement()
	eps, err := agr.Endpoints(party)
	if err != nil || len(eps) == 0 {
		return nil, fmt.Errorf("no endpoint for %s: %v", party, err)
	}
	v, err := agr.CheckpointKey(party, s.node.Clock().Now())
	if err != nil {
		return nil, err
	}
	key := party + " " + eps[0] + " " + fmt.Sprint(v.KeyHash())
	s.remotesMu.Lock()
	defer s.remotesMu.Unlock()
	if r := s.remotes[key]; r != nil {
		return r, nil
	}
	r, err := tlog.NewRemote(tlog.RemoteConfig{
		URL:      eps[0] + "/log",
		Verifier: v,
		Prepare: func(req *http.Request) error {
			// A log that is not public serves parties' signed requests.
			return s.client.Sign(req, nil, party)
		},
	})
	if err != nil {
		return nil, err
	}
	s.remotes[key] = r
	return r, nil
}

// recordEquivocation stores a proof and raises the alarm.
func (s *Server) recordEquivocation(e *tlog.Equivocation) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	existed, err := s.store.AddEquivocation(ctx, &store.EquivocationRecord{Origin: e.Origin(), Proof: e.Marshal(), At: s.now()})
	if err != nil {
		s.logger.Error("storing an equivocation proof", "origin", e.Origin(), "err", err)
		return
	}
	if !existed {
		s.alarms.Inc()
		s.logger.Error("EQUIVOCATION: a log signed two checkpoints that cannot both be true", "origin", e.Origin())
	}
}

// Heartbeats returns the node's heartbeats (tests trigger rounds).
func (s *Server) Heartbeats() *gossip.Heartbeats { return s.heartbeats }

// Puller returns the node's relay puller.
func (s *Server) Puller() *relay.Puller { return s.puller }

// Inclusion returns the node's inclusion checker.
func (s *Server) Inclusion() *inclusion.Checker { return s.inclusion }

// Watcher returns what acts on the node's obligation events.
func (s *Server) Watcher() *watch.Watcher { return s.watcher }

// Chain returns what keeps the node's agreement chain.
func (s *Server) Chain() *chain.Holder { return s.chain }

// Node returns the running node.
func (s *Server) Node() *node.Node { return s.node }

// Log returns the node's log.
func (s *Server) Log() *tlog.Log { return s.log }

// Serve runs delivery until ctx ends, then shuts down gracefully and closes
// everything. It returns the first error of the HTTP server, if any.
func (s *Server) Serve(ctx context.Context) error {
	dctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var dwg sync.WaitGroup
	dwg.Go(func() { s.deliverer.Run(dctx) })
	dwg.Go(func() { s.heartbeats.Run(dctx) })
	dwg.Go(func() { s.relay.Run(dctx) })
	dwg.Go(func() { s.puller.Run(dctx) })
	dwg.Go(func() { s.inclusion.Run(dctx) })
	dwg.Go(func() { s.mirror.run(dctx) })
	dwg.Go(func() { s.watcher.Run(dctx) })
	<-ctx.Done()
	s.logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := s.http.Shutdown(sctx)
		done <- errors.Join(err, s.opHTTP.Shutdown(sctx))
	}()
	var err error
	for waiting := true; waiting; {
		s.closeFresh()
		select {
		case err = <-done:
			waiting = false
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	dwg.Wait()
	if cerr := s.closeAll(); err == nil {
		err = cerr
	}
	s.serveMu.Lock()
	defer s.serveMu.Unlock()
	if s.serveErr != nil {
		return s.serveErr
	}
	return err
}

// closeFresh closes the connections that have not sent a request yet.
func (s *Server) closeFresh() {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	for c := range s.fresh {
		c.Close()
		delete(s.fresh, c)
	}
}

// closeAll closes what is open, in reverse order of opening.
func (s *Server) closeAll() error {
	var errs []error
	if s.http != nil {
		s.http.Close()
		s.serveWG.Wait()
	} else if s.ln != nil {
		s.ln.Close()
	}
	if s.opHTTP != nil {
		s.opHTTP.Close()
		s.opWG.Wait()
		if p := s.operatorSocketPath(); p != "" {
			os.Remove(p)
		}
	}
	if s.node != nil {
		s.node.Close()
	}
	if s.log != nil {
		errs = append(errs, s.log.Close())
		s.log = nil
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
		s.store = nil
	}
	return errors.Join(errs...)
}
