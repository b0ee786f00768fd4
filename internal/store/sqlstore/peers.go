package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/internal/store"
)

// AddEquivocation implements [store.Store].
func (s *Store) AddEquivocation(ctx context.Context, e *store.EquivocationRecord) (bool, error) {
	if err := e.Check(); err != nil {
		return false, err
	}
	hash := sha256.Sum256(e.Proof)
	var existed bool
	err := s.write(ctx, func(t *wtx) error {
		existed = false
		if done, err := t.changed("recording equivocation", `INSERT INTO equivocations (hash, origin, at, proof) VALUES (?, ?, ?, ?)
			ON CONFLICT (hash) DO NOTHING`, hash[:], e.Origin, nanos(e.At), e.Proof); done || err != nil {
			return err
		}
		var origin string
		if err := t.queryRow(`SELECT origin FROM equivocations WHERE hash = ?`, hash[:]).Scan(&origin); err != nil {
			return fmt.Errorf("reading equivocation: %w", err)
		}
		if origin != e.Origin {
			return conflict("equivocation proof %x already recorded for origin %q", hash[:8], origin)
		}
		existed = true
		return nil
	})
	return existed, err
}

// Equivocations implements [store.Store].
func (s *Store) Equivocations(ctx context.Context) ([]store.EquivocationRecord, error) {
	return collect(ctx, s, "listing equivocations", func(r row) (store.EquivocationRecord, error) {
		var (
			e  store.EquivocationRecord
			at int64
		)
		if err := r.Scan(&e.Origin, &at, &e.Proof); err != nil {
			return e, fmt.Errorf("listing equivocations: %w", err)
		}
		e.At = fromNanos(at)
		return e, nil
	}, `SELECT origin, at, proof FROM equivocations ORDER BY seq DESC`)
}

// recordProbe raises a peer's last values to a later probe's (or inserts
// them for the first), and changes nothing for a probe at or before the
// peer's latest. Between processes, the upsert locks the peer's row, so
// probes of one peer take turns.
const recordProbe = `INSERT INTO peer_health (peer, last_probe, last_ok, last_latency, last_failure, last_error)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (peer) DO UPDATE SET last_probe = excluded.last_probe,
		last_ok = coalesce(excluded.last_ok, peer_health.last_ok),
		last_latency = coalesce(excluded.last_latency, peer_health.last_latency),
		last_failure = coalesce(excluded.last_failure, peer_health.last_failure),
		last_error = CASE WHEN excluded.last_failure IS NULL THEN peer_health.last_error ELSE excluded.last_error END
	WHERE excluded.last_probe > peer_health.last_probe`

// countProbe adds a probe to its bucket.
const countProbe = `INSERT INTO probe_buckets (peer, bucket, probes, ok, latency) VALUES (?, ?, 1, ?, ?)
	ON CONFLICT (peer, bucket) DO UPDATE SET probes = probe_buckets.probes + 1,
		ok = probe_buckets.ok + excluded.ok, latency = probe_buckets.latency + excluded.latency`

// RecordProbe implements [store.Store].
func (s *Store) RecordProbe(ctx context.Context, p *store.Probe) error {
	if err := p.Check(); err != nil {
		return err
	}
	at := nanos(p.At)
	var lastOK, lastLatency, lastFailure any
	lastError, ok, latency := "", 0, int64(0)
	if p.OK {
		lastOK, lastLatency, ok, latency = at, int64(p.Latency), 1, int64(p.Latency)
	} else {
		lastFailure, lastError = at, errorText(p.Error)
	}
	bucket := nanos(store.BucketOf(p.At))
	return s.write(ctx, func(t *wtx) error {
		n, err := t.exec(recordProbe, p.Peer, at, lastOK, lastLatency, lastFailure, lastError)
		if err != nil {
			return fmt.Errorf("recording probe of %q: %w", p.Peer, err)
		}
		if n == 0 {
			var last int64
			if err := t.queryRow(`SELECT last_probe FROM peer_health WHERE peer = ?`, p.Peer).Scan(&last); err != nil {
				return fmt.Errorf("reading probes of %q: %w", p.Peer, err)
			}
			if last == at {
				return nil // a retry
			}
			return conflict("probe of %q at %v is older than its latest, at %v", p.Peer, p.At, fromNanos(last))
		}
		_, err = t.exec(countProbe, p.Peer, bucket, ok, latency)
		return wrapf(err, "counting probe of %q", p.Peer)
	})
}

// peersHealth selects each peer's health over the buckets from a start;
// its arguments are the start and the peer twice, or "" for every peer.
const peersHealth = `SELECT h.peer, CAST(coalesce(sum(b.probes), 0) AS BIGINT), CAST(coalesce(sum(b.ok), 0) AS BIGINT),
		CAST(coalesce(sum(b.latency), 0) AS BIGINT), h.last_ok, h.last_latency, h.last_failure, h.last_error
	FROM peer_health h LEFT JOIN probe_buckets b ON b.peer = h.peer AND b.bucket >= ?
	WHERE ? = '' OR h.peer = ?
	GROUP BY h.peer`

func scanHealth(r row) (store.Health, error) {
	var (
		h                            store.Health
		probes, ok, latency          int64
		lastOK, lastLat, lastFailure *int64
	)
	if err := r.Scan(&h.Peer, &probes, &ok, &latency, &lastOK, &lastLat, &lastFailure, &h.LastError); err != nil {
		return h, fmt.Errorf("reading channel health: %w", err)
	}
	h.Probes, h.OK = int(probes), int(ok)
	if ok > 0 {
		h.MeanLatency = time.Duration(latency / ok)
	}
	h.LastOK = fromOptNanos(lastOK)
	if lastLat != nil {
		h.LastLatency = time.Duration(*lastLat)
	}
	h.LastFailure = fromOptNanos(lastFailure)
	return h, nil
}

func (s *Store) health(ctx context.Context, peer string, since time.Time) ([]store.Health, error) {
	if err := store.CheckTime("since", since); err != nil {
		return nil, err
	}
	hs, err := collect(ctx, s, "reading channel health", scanHealth, peersHealth,
		nanos(store.BucketOf(since)), peer, peer)
	// Sorted here, bytewise, whatever the database's collation.
	slices.SortFunc(hs, func(a, b store.Health) int { return strings.Compare(a.Peer, b.Peer) })
	return hs, err
}

// PeerHealth implements [store.Store].
func (s *Store) PeerHealth(ctx context.Context, peer string, since time.Time) (store.Health, error) {
	if err := store.CheckParty("peer", peer); err != nil {
		return store.Health{}, err
	}
	hs, err := s.health(ctx, peer, since)
	if err != nil || len(hs) == 0 {
		return store.Health{Peer: peer}, err
	}
	return hs[0], nil
}

// PeersHealth implements [store.Store].
func (s *Store) PeersHealth(ctx context.Context, since time.Time) ([]store.Health, error) {
	return s.health(ctx, "", since)
}

// PurgeProbes implements [store.Store].
func (s *Store) PurgeProbes(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime("before", before); err != nil {
		return 0, err
	}
	last, ok := store.BucketsBefore(before)
	if !ok {
		return 0, nil
	}
	end := nanos(last)
	var n int64
	err := s.write(ctx, func(t *wtx) error {
		err := t.queryRow(`SELECT CAST(coalesce(sum(probes), 0) AS BIGINT) FROM probe_buckets WHERE bucket <= ?`, end).Scan(&n)
		if err != nil {
			return fmt.Errorf("purging probes: %w", err)
		}
		_, err = t.exec(`DELETE FROM probe_buckets WHERE bucket <= ?`, end)
		return wrapf(err, "purging probes")
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// AddRefusal implements [store.Store].
func (s *Store) AddRefusal(ctx context.Context, r *store.Refusal, max int) (store.Refusal, bool, error) {
	if err := r.Check(); err != nil {
		return store.Refusal{}, false, err
	}
	var out store.Refusal
	var existed bool
	err := s.write(ctx, func(t *wtx) error {
		existed = false
		got, err := scanRefusal(t.queryRow(`SELECT `+refusalCols+` FROM refusals WHERE dir = ? AND message = ? AND peer = ?`,
			int(r.Direction), r.Message[:], r.Peer))
		if err == nil {
			out, existed = got, true
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var n int64
		if err := t.queryRow(`SELECT count(*) FROM refusals WHERE dir = ? AND peer = ?`, int(r.Direction), r.Peer).Scan(&n); err != nil {
			return fmt.Errorf("counting refusals: %w", err)
		}
		if n >= int64(max) {
			return fmt.Errorf("%w: %d refusals %v for %s", store.ErrFull, n, r.Direction, r.Peer)
		}
		if _, err := t.exec(`INSERT INTO refusals (dir, message, peer, code, at, note, refusal_id, entry) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			int(r.Direction), r.Message[:], r.Peer, r.Code, nanos(r.At), r.Note, r.ID[:], r.Entry[:]); err != nil {
			if t.s.d.Unique(err) {
				return conflict("a refusal of %v by %s was stored meanwhile", r.Message, r.Peer)
			}
			return fmt.Errorf("storing refusal: %w", err)
		}
		out = *r
		out.Index, out.Sequenced = 0, false
		return nil
	})
	return out, existed, err
}

// RefusalSequenced implements [store.Store].
func (s *Store) RefusalSequenced(ctx context.Context, dir hotline.Direction, id hotline.ID, index uint64) error {
	if dir != hotline.RefusalIssued && dir != hotline.RefusalReceived {
		return fmt.Errorf("%w: refusal direction %v", store.ErrInvalid, dir)
	}
	if err := store.CheckUint("refusal index", index); err != nil {
		return err
	}
	return s.write(ctx, func(t *wtx) error {
		if done, err := t.changed("recording refusal index", `UPDATE refusals SET leaf_idx = ? WHERE dir = ? AND refusal_id = ? AND leaf_idx IS NULL`,
			int64(index), int(dir), id[:]); done || err != nil {
			return err
		}
		var idx sql.NullInt64
		err := t.queryRow(`SELECT leaf_idx FROM refusals WHERE dir = ? AND refusal_id = ?`, int(dir), id[:]).Scan(&idx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("refusal %v: %w", id, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("reading refusal index: %w", err)
		case idx.Int64 != int64(index):
			return conflict("refusal %v already at index %d, not %d", id, idx.Int64, index)
		}
		return nil
	})
}

// Refusals implements [store.Store].
func (s *Store) Refusals(ctx context.Context, dir hotline.Direction, peer string) ([]store.Refusal, error) {
	if err := store.CheckParty("peer", peer); err != nil {
		return nil, err
	}
	return collect(ctx, s, "listing refusals", func(r row) (store.Refusal, error) {
		return scanRefusal(r)
	}, `SELECT `+refusalCols+` FROM refusals WHERE dir = ? AND peer = ? ORDER BY seq`, int(dir), peer)
}

const refusalCols = `dir, message, peer, code, at, note, refusal_id, entry, leaf_idx`

func scanRefusal(r row) (store.Refusal, error) {
	var (
		out                store.Refusal
		dir                int
		at                 int64
		message, id, entry []byte
		idx                sql.NullInt64
	)
	if err := scanned("refusal", r.Scan(&dir, &message, &out.Peer, &out.Code, &at, &out.Note, &id, &entry, &idx)); err != nil {
		return out, err
	}
	out.Direction, out.At = hotline.Direction(dir), fromNanos(at)
	copy(out.Message[:], message)
	copy(out.ID[:], id)
	copy(out.Entry[:], entry)
	out.Index, out.Sequenced = uint64(idx.Int64), idx.Valid
	return out, nil
}
