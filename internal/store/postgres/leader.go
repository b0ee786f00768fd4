package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline/internal/store/sqlstore"
)

// LeaderConfig configures [Lead] and [TryLead].
type LeaderConfig struct {
	// URL is the PostgreSQL connection string. Required.
	URL string
	// Name names what is led: replicas of one node use the same Name (the
	// schema they share, say); the advisory lock key is derived from it.
	// Empty means "hotline".
	Name string
	// Logger receives a line when leadership is won or lost. Nil discards
	// them.
	Logger *slog.Logger
	// CheckInterval is how often an idle leader checks its connection
	// with a round trip, to notice a silent network failure. A connection
	// the server closes (the server restarting, the session terminated)
	// is noticed at once. Zero means 5 seconds.
	CheckInterval time.Duration
}

// Leader is this process's leadership, held as a session-level advisory
// lock (pg_advisory_lock) on a dedicated connection: it lasts as long as
// that connection, and PostgreSQL gives the lock to the next contender as
// soon as the connection is gone.
//
// Leadership is lost when the connection fails; [Leader.Lost] tells when.
// Between a connection failing and this process noticing, another replica
// may already lead: the server releases the lock when it notices the
// session is gone, this process when its check fails (at once for a
// connection the server closes; within about CheckInterval plus the
// keepalive settings for a silent network failure). Work a leader does
// must therefore stay correct when two leaders overlap briefly — the
// store's conditional writes are.
//
// The server notices a vanished client through TCP keepalives, which the
// leader's session sets to about 15 seconds instead of the server's
// default of hours, so that a partitioned leader's lock is released.
type Leader struct {
	conn   *pgx.Conn
	key    int64
	name   string
	log    *slog.Logger
	every  time.Duration
	stop   context.CancelFunc
	done   chan struct{} // closed when the watcher returns
	lost   chan struct{} // closed when leadership is lost
	mu     sync.Mutex
	err    error
	closed bool
}

// Lead blocks until this process leads (it holds the advisory lock) or
// ctx ends. The caller must Resign, or lose, the leadership it returns.
func Lead(ctx context.Context, cfg LeaderConfig) (*Leader, error) {
	l, conn, err := newLeader(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, l.key); err != nil {
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("waiting for leadership of %q: %w", l.name, err)
	}
	l.start()
	return l, nil
}

// TryLead takes the leadership if no one holds it (pg_try_advisory_lock);
// it returns nil, false, nil if another process leads.
func TryLead(ctx context.Context, cfg LeaderConfig) (*Leader, bool, error) {
	l, conn, err := newLeader(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		conn.Close(context.Background())
		return nil, false, fmt.Errorf("trying leadership of %q: %w", l.name, err)
	}
	if !ok {
		conn.Close(context.Background())
		return nil, false, nil
	}
	l.start()
	return l, true, nil
}

func newLeader(ctx context.Context, cfg LeaderConfig) (*Leader, *pgx.Conn, error) {
	cc, err := parseURL("leading", cfg.URL)
	if err != nil {
		return nil, nil, err
	}
	name := cfg.Name
	if name == "" {
		name = "hotline"
	}
	log := sqlstore.Logger(cfg.Logger)
	every := cfg.CheckInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	cc.RuntimeParams["application_name"] = "hotline leader"
	cc.RuntimeParams["tcp_keepalives_idle"] = "5"
	cc.RuntimeParams["tcp_keepalives_interval"] = "5"
	cc.RuntimeParams["tcp_keepalives_count"] = "2"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, nil, fmt.Errorf("leading %q: connecting: %w", name, err)
	}
	l := &Leader{conn: conn, key: lockKey("hotline leader " + name), name: name, log: log, every: every,
		done: make(chan struct{}), lost: make(chan struct{})}
	return l, conn, nil
}

func (l *Leader) start() {
	l.log.Info("store: leading", "name", l.name, "backend", l.conn.PgConn().PID())
	ctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	go l.watch(ctx)
}

// watch waits on the connection until it fails or ctx ends. A failure
// ends the leadership.
func (l *Leader) watch(ctx context.Context) {
	defer close(l.done)
	for {
		// Nothing is sent to this session; waiting for a notification
		// only returns when the connection fails, or after every.
		wctx, cancel := context.WithTimeout(ctx, l.every)
		_, err := l.conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // Resign
		case err == nil:
			continue // a notification: the connection works
		case wctx.Err() != nil && !l.conn.IsClosed():
			// Quiet for a while: check the connection with a round
			// trip, which a silent network failure cannot answer.
			pctx, cancel := context.WithTimeout(ctx, l.every)
			err = l.conn.Ping(pctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				continue
			}
		}
		l.end(fmt.Errorf("leadership of %q lost: connection failed: %w", l.name, err))
		return
	}
}

// end records why leadership ended, once.
func (l *Leader) end(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.err = err
	close(l.lost)
	if err != nil {
		l.log.Error("store: leadership lost", "name", l.name, "err", err)
	}
}

// Lost returns a channel that is closed when the leadership ends: the
// connection failed, or Resign was called.
func (l *Leader) Lost() <-chan struct{} { return l.lost }

// Err returns why the leadership was lost, or nil while it lasts and after
// Resign.
func (l *Leader) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// BackendPID returns the process id of the server session that holds the
// lock, for operators (pg_stat_activity) and tests.
func (l *Leader) BackendPID() uint32 { return l.conn.PgConn().PID() }

// Resign gives the leadership up: it stops watching, releases the lock and
// closes the connection. It is safe to call after the leadership was lost.
func (l *Leader) Resign(ctx context.Context) error {
	l.stop()
	<-l.done
	l.end(nil)
	defer l.conn.Close(context.Background())
	if l.conn.IsClosed() {
		return nil
	}
	var released bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&released); err != nil {
		// Closing the connection releases the lock anyway.
		return fmt.Errorf("resigning leadership of %q: %w", l.name, err)
	}
	if !released {
		return fmt.Errorf("resigning leadership of %q: lock %s was not held", l.name, strconv.FormatInt(l.key, 10))
	}
	return nil
}
