// Package pgtest gives tests and benchmarks a PostgreSQL central store in
// a throwaway schema of the server named by KIPASS_PG_DSN (started by
// central/pg/testdb.sh). Without a reachable server the test is skipped
// with a message, unless KIPASS_PG_REQUIRED is set (CI), where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kipass/kipass/central/pg"
)

// EnvDSN and EnvRequired are the environment variables pgtest reads.
const (
	EnvDSN      = "KIPASS_PG_DSN"
	EnvRequired = "KIPASS_PG_REQUIRED"
)

// unavailable skips or fails tb for a missing server.
func unavailable(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(EnvRequired) != "" {
		tb.Fatalf("PostgreSQL required (%s is set) but %s", EnvRequired, why)
	}
	tb.Skipf("PostgreSQL tests skipped: %s (run them with: central/pg/testdb.sh run -- go test ./central/...)", why)
}

// DSN returns the test server's connection string, or skips tb.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		unavailable(tb, EnvDSN+" is not set")
	}
	return dsn
}

// withSearchPath adds a search_path run-time parameter to a DSN.
func withSearchPath(dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

// Schema creates a new schema, dropped when tb ends, and returns a DSN
// whose search_path selects it.
func Schema(tb testing.TB) string {
	tb.Helper()
	dsn := DSN(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		unavailable(tb, "no server at "+EnvDSN+": "+err.Error())
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	return withSearchPath(dsn, schema)
}

// Open returns a PostgreSQL store in a new schema, dropped when tb ends.
func Open(tb testing.TB) *pg.Store {
	tb.Helper()
	return OpenDSN(tb, Schema(tb))
}

// OpenDSN opens another store on a DSN from Schema (a second central
// server on the same database), closed when tb ends.
func OpenDSN(tb testing.TB, dsn string) *pg.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := pg.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
