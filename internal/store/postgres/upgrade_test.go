package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-net/hotline/internal/store/postgres"
	"github.com/hotline-net/hotline/internal/store/storetest"
)

// TestUpgrade opens a schema written under the first migration only, as
// the first release left it, and checks that the later migrations keep its
// rows and give them the later columns.
func TestUpgrade(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	schema := newTestSchema(t, url)
	first, err := postgres.Migration("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{schema}.Sanitize()
	for _, q := range []string{
		`CREATE SCHEMA ` + ident,
		`SET search_path TO ` + ident,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL)`,
		first,
		`INSERT INTO schema_migrations (version, name) VALUES (1, 'migrations/0001_init.sql')`,
	} {
		if _, err := conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO outbox (`+storetest.UpgradeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		storetest.UpgradeRowArgs()...); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO envelopes (`+storetest.UpgradeEnvelopeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`, storetest.UpgradeEnvelopeArgs()...); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckUpgrade(t, s)
}
