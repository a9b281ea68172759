// Package storetest gives each test its own PostgreSQL schema with nurture's
// migrations applied, so tests run in parallel on one real server and never
// see each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nurture-dev/nurture/store"
)

// DefaultURL is the server tests use unless TEST_DATABASE_URL says otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL is the test server's URL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Pool returns a pool whose search_path is a fresh, migrated schema; the
// schema is dropped when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := Schema(t)
	return pool
}

// Schema is Pool, and also returns the schema's name, for a test that
// connects to it another way (a worker process, a proxy): add
// search_path=NAME to its connection URL.
func Schema(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	schema := "t_" + randomHex(6)
	admin, err := pgx.Connect(ctx, URL())
	if err != nil {
		t.Fatalf("connect to test postgres at %s (set TEST_DATABASE_URL): %v", URL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create schema "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(URL())
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := store.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open test schema: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		conn, err := pgx.Connect(context.Background(), URL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "drop schema "+schema+" cascade")
	})
	return pool, schema
}

// URLFor is the test server's URL with another host:port (a proxy in
// front of it) and a search_path.
func URLFor(t testing.TB, hostPort, schema string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(URL())
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	if hostPort == "" {
		hostPort = cfg.Host + ":" + strconv.Itoa(int(cfg.Port))
	}
	return "postgres://" + cfg.User + "@" + hostPort + "/" + cfg.Database + "?sslmode=disable&search_path=" + schema
}

// NewDatabase creates an empty database for a test that needs one of its
// own (commands that create and migrate their database) and returns its URL;
// it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(URL())
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	name := "nurture_test_" + randomHex(6)
	t.Cleanup(func() {
		conn, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "drop database if exists "+name+" with (force)")
	})
	u := *cfg
	u.Database = name
	return "postgres://" + u.User + "@" + u.Host + ":" + strconv.Itoa(int(u.Port)) + "/" + name + "?sslmode=disable"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// DatabaseExists reports whether the database a URL names exists on the
// test server, asked without connecting to it (which could create it).
func DatabaseExists(ctx context.Context, t testing.TB, dbURL string) bool {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from pg_database where datname = $1", strings.TrimPrefix(u.Path, "/")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}
