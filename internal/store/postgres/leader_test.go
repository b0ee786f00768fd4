package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline/internal/store/postgres"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing a result
	}
}

func TestLeaderTakeover(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	// The schema name is fresh, so the lock is this test's own.
	cfg := postgres.LeaderConfig{URL: url, Name: newTestSchema(t, url), CheckInterval: time.Second}

	a, err := postgres.Lead(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := postgres.TryLead(ctx, cfg); ok || err != nil {
		t.Fatalf("TryLead while a leads = %v, %v; want false", ok, err)
	}

	// b waits for the lock.
	type result struct {
		l   *postgres.Leader
		err error
	}
	bc := make(chan result, 1)
	go func() {
		l, err := postgres.Lead(ctx, cfg)
		bc <- result{l, err}
	}()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	waitFor(t, "b to wait for the lock", func() bool {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = 'hotline leader')`).Scan(&n)
		return err == nil && n > 0
	})
	select {
	case r := <-bc:
		t.Fatalf("b leads while a does: %v", r.err)
	default:
	}

	// a's connection dies: a learns it lost, b takes over.
	var killed bool
	if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int64(a.BackendPID())).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating a's session: %v, %v", killed, err)
	}
	select {
	case <-a.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("a did not notice it lost the leadership")
	}
	if a.Err() == nil {
		t.Errorf("a lost the leadership without an error")
	}
	var b result
	select {
	case b = <-bc:
	case <-time.After(30 * time.Second):
		t.Fatal("b did not take over")
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	select {
	case <-b.l.Lost():
		t.Fatalf("b lost the leadership: %v", b.l.Err())
	default:
	}
	if err := a.Resign(ctx); err != nil {
		t.Errorf("a.Resign after losing: %v", err)
	}

	// b resigns: the lock is free again.
	if err := b.l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	<-b.l.Lost()
	if b.l.Err() != nil {
		t.Errorf("b.Err after Resign = %v, want nil", b.l.Err())
	}
	c, ok, err := postgres.TryLead(ctx, cfg)
	if err != nil || !ok {
		t.Fatalf("TryLead after b resigned = %v, %v; want true", ok, err)
	}
	if err := c.Resign(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLeadCancelled(t *testing.T) {
	url := testURL(t)
	cfg := postgres.LeaderConfig{URL: url, Name: newTestSchema(t, url)}
	a, err := postgres.Lead(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Resign(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := postgres.Lead(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lead while another leads, until a deadline = %v, want %v", err, context.DeadlineExceeded)
	}
}
