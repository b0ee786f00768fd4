package server

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hotline-net/hotline/internal/store"
	"github.com/hotline-net/hotline/internal/tlog"
)

// cosignatureKey is the store value that holds what witnesses returned.
const cosignatureKey = "tlog/cosignatures"

// storeCosignatures keeps the log's cosignatures in the node's store, not
// in the log's folder: a log restored from an old backup must not take the
// never-rewind floor back with it.
type storeCosignatures struct {
	st store.Store
	mu sync.Mutex
	// history, once set (heartbeats start after the log), is handed each
	// quorum checkpoint, to keep it with every cosignature.
	history atomic.Pointer[func(context.Context, []byte)]
}

// keepHistory hands every quorum checkpoint from now on to f, and the
// stored one at once.
func (c *storeCosignatures) keepHistory(ctx context.Context, f func(context.Context, []byte)) error {
	c.history.Store(&f)
	s, err := c.Load(ctx)
	if err != nil {
		return err
	}
	if s.Quorum != nil {
		f(ctx, s.Quorum)
	}
	return nil
}

var _ tlog.CosignatureStore = (*storeCosignatures)(nil)

type cosignatureState struct {
	Witnesses map[string][]byte `json:"witnesses"`
	Quorum    []byte            `json:"quorum,omitempty"`
}

func (c *storeCosignatures) Load(ctx context.Context) (tlog.CosignatureState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.load(ctx)
	return tlog.CosignatureState{Witnesses: s.Witnesses, Quorum: s.Quorum}, err
}

func (c *storeCosignatures) load(ctx context.Context) (cosignatureState, error) {
	s := cosignatureState{Witnesses: map[string][]byte{}}
	b, err := c.st.Value(ctx, cosignatureKey)
	if errors.Is(err, store.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, err
	}
	if s.Witnesses == nil {
		s.Witnesses = map[string][]byte{}
	}
	return s, nil
}

func (c *storeCosignatures) update(ctx context.Context, f func(*cosignatureState)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.load(ctx)
	if err != nil {
		return err
	}
	f(&s)
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return c.st.SetValue(ctx, cosignatureKey, b)
}

// PutWitness and PutQuorum finish their write even when the log's context
// ends (at shutdown): a cosignature that arrived raises the never-rewind
// floor and must not be dropped. The log closes before the store.

func (c *storeCosignatures) PutWitness(ctx context.Context, witness string, cosigned []byte) error {
	return c.update(context.WithoutCancel(ctx), func(s *cosignatureState) { s.Witnesses[witness] = cosigned })
}

func (c *storeCosignatures) PutQuorum(ctx context.Context, cosigned []byte) error {
	ctx = context.WithoutCancel(ctx)
	if err := c.update(ctx, func(s *cosignatureState) { s.Quorum = cosigned }); err != nil {
		return err
	}
	if f := c.history.Load(); f != nil {
		(*f)(ctx, cosigned)
	}
	return nil
}
