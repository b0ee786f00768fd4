package server

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-net/hotline/internal/store"
)

// registerStoreMetrics exports what the store counts of writes the
// storage could not take (a full disk), if it counts them (the SQL store
// does; a test's own store may not).
func (s *Server) registerStoreMetrics() {
	st, ok := s.store.(interface {
		StorageFull() (failures int64, now bool)
	})
	if !ok {
		return
	}
	s.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "hotline_store_write_failures_total",
			Help:        "Store writes that failed because the storage could not take them (reason storage_full: a full disk).",
			ConstLabels: prometheus.Labels{"reason": "storage_full"},
		}, func() float64 { n, _ := st.StorageFull(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hotline_store_storage_full",
			Help: "1 while the store's latest write failed because the storage is full; 0 once a write succeeds.",
		}, func() float64 {
			if _, now := st.StorageFull(); now {
				return 1
			}
			return 0
		}),
	)
}

// storageFullWarns is the node's log handler's one rule for a full disk:
// a line logged at error level whose error is the storage refusing a
// write (store.ErrStorageFull, ENOSPC, EDQUOT) is written at warning
// level. A full disk stops the background jobs' writes — recording
// probes, attempts, checkpoints, inclusion proofs — each of which logs
// its failure and tries again on its own schedule; the condition is the
// operator's to fix (hotline_store_storage_full says so), not an alarm,
// and fault campaigns count error lines as alarms. The jobs stay
// unaware of it.
type storageFullWarns struct{ slog.Handler }

func (h storageFullWarns) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && storageFullRecord(r) {
		if !h.Handler.Enabled(ctx, slog.LevelWarn) {
			return nil
		}
		w := slog.NewRecord(r.Time, slog.LevelWarn, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { w.AddAttrs(a); return true })
		w.AddAttrs(slog.Bool("storage_full", true))
		r = w
	}
	return h.Handler.Handle(ctx, r)
}

func (h storageFullWarns) WithAttrs(as []slog.Attr) slog.Handler {
	return storageFullWarns{h.Handler.WithAttrs(as)}
}

func (h storageFullWarns) WithGroup(name string) slog.Handler {
	return storageFullWarns{h.Handler.WithGroup(name)}
}

// storageFullRecord reports whether one of r's attributes is an error of
// a full storage.
func storageFullRecord(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Resolve().Any().(error); ok && storageFull(err) {
			found = true
		}
		return !found
	})
	return found
}

func storageFull(err error) bool {
	return errors.Is(err, store.ErrStorageFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
