package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hotline-net/hotline/internal/store"
)

// AddWitnessed implements [store.Store].
func (s *Store) AddWitnessed(ctx context.Context, c *store.WitnessedCheckpoint) (int, error) {
	if err := c.Check(); err != nil {
		return 0, err
	}
	var added int
	err := s.write(ctx, func(t *wtx) error {
		added = 0
		var hash []byte
		err := t.queryRow(`SELECT hash FROM witnessed WHERE origin = ? AND size = ?`, c.Origin, int64(c.Size)).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := t.exec(`INSERT INTO witnessed (origin, size, hash, note, at) VALUES (?, ?, ?, ?, ?)`,
				c.Origin, int64(c.Size), c.Hash[:], c.Note, nanos(c.At)); err != nil {
				return fmt.Errorf("recording the witnessed checkpoint %d of %q: %w", c.Size, c.Origin, err)
			}
		case err != nil:
			return fmt.Errorf("reading the witnessed checkpoint %d of %q: %w", c.Size, c.Origin, err)
		case !bytes.Equal(hash, c.Hash[:]):
			return conflict("a witnessed checkpoint %d of %q with another root is recorded", c.Size, c.Origin)
		}
		for _, cs := range c.Cosignatures {
			n, err := t.exec(`INSERT INTO cosignatures (origin, size, witness, cosigned, signature, at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (origin, size, witness) DO NOTHING`,
				c.Origin, int64(c.Size), cs.Witness, nanos(cs.Time), cs.Signature, nanos(cs.At))
			if err != nil {
				return fmt.Errorf("recording %q's cosignature of checkpoint %d of %q: %w", cs.Witness, c.Size, c.Origin, err)
			}
			added += int(n)
		}
		return nil
	})
	return added, err
}

// scanCosignature reads origin, size, witness, cosigned, signature, at.
func scanCosignature(r row) (store.CosignatureRecord, error) {
	var (
		c            store.CosignatureRecord
		size, ts, at int64
	)
	if err := r.Scan(&c.Origin, &size, &c.Witness, &ts, &c.Signature, &at); err != nil {
		return c, fmt.Errorf("reading a cosignature: %w", err)
	}
	c.Size, c.Time, c.At = uint64(size), fromNanos(ts), fromNanos(at)
	return c, nil
}

const cosignatureColumns = `origin, size, witness, cosigned, signature, at`

// scanWitnessed reads origin, size, hash, note, at.
func scanWitnessed(r row) (store.WitnessedCheckpoint, error) {
	var (
		c        store.WitnessedCheckpoint
		size, at int64
		hash     []byte
	)
	if err := r.Scan(&c.Origin, &size, &hash, &c.Note, &at); err != nil {
		return c, err
	}
	if len(hash) != len(c.Hash) {
		return c, fmt.Errorf("witnessed checkpoint %d of %q: a root of %d bytes", size, c.Origin, len(hash))
	}
	copy(c.Hash[:], hash)
	c.Size, c.At = uint64(size), fromNanos(at)
	return c, nil
}

// withCosignatures reads the cosignatures of c.
func (s *Store) withCosignatures(ctx context.Context, c *store.WitnessedCheckpoint) error {
	cs, err := collect(ctx, s, "listing cosignatures", scanCosignature,
		`SELECT `+cosignatureColumns+` FROM cosignatures WHERE origin = ? AND size = ? ORDER BY witness`, c.Origin, int64(c.Size))
	c.Cosignatures = cs
	return err
}

// WitnessedAround implements [store.Store].
func (s *Store) WitnessedAround(ctx context.Context, origin string, size uint64) (below, above *store.WitnessedCheckpoint, err error) {
	if err := store.CheckKey(origin); err != nil {
		return nil, nil, err
	}
	if err := store.CheckUint("size", size); err != nil {
		return nil, nil, err
	}
	one := func(q string) (*store.WitnessedCheckpoint, error) {
		c, err := scanWitnessed(s.queryRow(ctx, q, origin, int64(size)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading witnessed checkpoints of %q around %d: %w", origin, size, err)
		}
		return &c, s.withCosignatures(ctx, &c)
	}
	if below, err = one(`SELECT origin, size, hash, note, at FROM witnessed WHERE origin = ? AND size < ? ORDER BY size DESC LIMIT 1`); err != nil {
		return nil, nil, err
	}
	above, err = one(`SELECT origin, size, hash, note, at FROM witnessed WHERE origin = ? AND size > ? ORDER BY size LIMIT 1`)
	return below, above, err
}

// Witnessed implements [store.Store].
func (s *Store) Witnessed(ctx context.Context, origin string, limit int) ([]store.WitnessedCheckpoint, error) {
	if err := store.CheckKey(origin); err != nil {
		return nil, err
	}
	q := `SELECT origin, size, hash, note, at FROM witnessed WHERE origin = ? ORDER BY size DESC`
	args := []any{origin}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	cs, err := collect(ctx, s, "listing witnessed checkpoints", func(r row) (store.WitnessedCheckpoint, error) {
		c, err := scanWitnessed(r)
		return c, wrapf(err, "listing witnessed checkpoints of %q", origin)
	}, q, args...)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if err := s.withCosignatures(ctx, &cs[i]); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// FirstCosignatures implements [store.Store].
func (s *Store) FirstCosignatures(ctx context.Context, origin string, index uint64) ([]store.CosignatureRecord, error) {
	if err := store.CheckKey(origin); err != nil {
		return nil, err
	}
	if err := store.CheckUint("index", index); err != nil {
		return nil, err
	}
	// Each witness's earliest timestamp on a checkpoint containing index,
	// and, of its cosignatures with that timestamp, the smallest
	// checkpoint's.
	return collect(ctx, s, "listing first cosignatures", scanCosignature,
		`SELECT `+cosignatureColumns+` FROM cosignatures c
		WHERE c.origin = ? AND c.size > ? AND c.size = (
			SELECT min(f.size) FROM cosignatures f WHERE f.origin = c.origin AND f.witness = c.witness AND f.size > ?
			AND f.cosigned = (SELECT min(m.cosigned) FROM cosignatures m WHERE m.origin = c.origin AND m.witness = c.witness AND m.size > ?))
		ORDER BY c.cosigned, c.witness`, origin, int64(index), int64(index), int64(index))
}
