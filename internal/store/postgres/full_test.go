package postgres_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hotline-net/hotline/internal/store/postgres"
)

// TestFullClassifiesDiskFull: the error pgx returns for a server's
// disk_full (SQLSTATE 53100), as the driver builds it from the server's
// ErrorResponse and as the store wraps it, is a full storage; the other
// insufficient-resources codes and other errors are not.
func TestFullClassifiesDiskFull(t *testing.T) {
	pgErr := func(code, msg string) error {
		return &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg}
	}
	for _, tt := range []struct {
		err  error
		full bool
	}{
		{pgErr("53100", `could not extend file "base/16384/16385": No space left on device`), true},
		{fmt.Errorf("inserting envelope: %w", pgErr("53100", "could not write to file \"pg_wal/xlogtemp.123\": No space left on device")), true},
		{errors.Join(errors.New("rolling back"), pgErr("53100", "disk full")), true},
		{pgErr("53200", "out of memory"), false},
		{pgErr("53300", "sorry, too many clients already"), false},
		{pgErr("23505", "duplicate key value violates unique constraint"), false},
		{errors.New("53100"), false},
		{nil, false},
	} {
		if got := postgres.Full(tt.err); got != tt.full {
			t.Errorf("Full(%v) = %v, want %v", tt.err, got, tt.full)
		}
	}
}
