package server

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-net/hotline/internal/tlog"
)

// mirror keeps this node's copies of its peers' logs (tlog.Mirror, in
// the node folder's mirror/): every heartbeat interval, each peer's log
// up to the largest checkpoint of it that carries the agreement's witness
// quorum. A peer restored from an old backup refills its own log from
// them (hotline log restore); they are served to parties under /mirror/.
type mirror struct {
	s        *Server
	m        *tlog.Mirror
	every    time.Duration
	entries  *prometheus.GaugeVec
	failures *prometheus.CounterVec
}

func (s *Server) startMirror(every time.Duration) error {
	m, err := tlog.OpenMirror(filepath.Join(s.dir, MirrorDir), s.logger)
	if err != nil {
		return err
	}
	s.mirror = &mirror{s: s, m: m, every: every,
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_mirror_entries",
			Help: "Entries of each peer's log this node holds a copy of, checked against the peer's largest witnessed checkpoint.",
		}, []string{"peer"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_mirror_failures_total",
			Help: "Copies of a peer's log that failed: kind unreadable (its tiles out of reach) or mismatch (its entries do not build its witnessed checkpoint).",
		}, []string{"peer", "kind"}),
	}
	s.registry.MustRegister(s.mirror.entries, s.mirror.failures)
	return nil
}

func (m *mirror) run(ctx context.Context) {
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.syncAll(ctx)
	}
}

// SyncMirrors brings this node's copies of its peers' logs up to their
// largest witnessed checkpoints now, and returns the size each copy has.
func (s *Server) SyncMirrors(ctx context.Context) map[string]uint64 {
	return s.mirror.syncAll(ctx)
}

func (m *mirror) syncAll(ctx context.Context) map[string]uint64 {
	s := m.s
	sizes := map[string]uint64{}
	for _, p := range s.node.Agreement().Parties() {
		if p.ID == s.cfg.Party || ctx.Err() != nil {
			continue
		}
		r, err := s.remote(p.ID)
		if err != nil {
			continue // a party without a log or an endpoint
		}
		// What the log serves goes to gossip, which believes it only
		// once witnessed; the copy follows what is witnessed.
		if fetched, err := r.Checkpoint(ctx); err == nil {
			s.heartbeats.Observe(ctx, fetched.Note)
		}
		v, ok, err := s.heartbeats.Witnessed(ctx, p.ID)
		if err != nil || !ok {
			continue
		}
		n, err := m.m.Sync(ctx, r, v.Checkpoint)
		sizes[p.ID] = n
		m.entries.WithLabelValues(p.ID).Set(float64(n))
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return sizes
		case errors.Is(err, tlog.ErrMirrorMismatch):
			m.failures.WithLabelValues(p.ID, "mismatch").Inc()
			s.logger.Error("ALARM: a peer's log serves entries that do not build its witnessed checkpoint", "peer", p.ID, "err", err)
		default:
			m.failures.WithLabelValues(p.ID, "unreadable").Inc()
			s.logger.Info("cannot copy a peer's log yet", "peer", p.ID, "err", err)
		}
	}
	return sizes
}
