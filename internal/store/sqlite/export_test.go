package sqlite

import (
	"context"
	"fmt"
)

// Migration returns a migration as this engine applies it, for the
// upgrade test.
func Migration(name string) (string, error) { return dialect.Migration(name) }

// Full is the dialect's Full, for the classification test.
var Full = full

// SetMaxPageCount sets the writer connection's max_page_count, so that
// a test fills the database as a full disk would (SQLITE_FULL), and
// returns the page count the database has now.
func SetMaxPageCount(db *DB, pages func(now int64) int64) (int64, error) {
	ctx := context.Background()
	var now int64
	if err := db.conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&now); err != nil {
		return 0, err
	}
	var set int64
	err := db.conn.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages(now))).Scan(&set)
	return now, err
}
