// Package store is nurture's PostgreSQL access: the connection, the embedded
// migrations, and every query, in one place. Queries are functions that take
// the connection as an argument (DB), so the same function runs on the pool
// or inside a transaction.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// DefaultURL is the local server the demo and tests expect when
// DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/nurture?sslmode=disable"

// DB is what the query functions need: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

//go:embed migrations/*.sql
var migrations embed.FS

// ErrUnreachable wraps a failure to reach the server, so commands can say
// how to start one.
var ErrUnreachable = errors.New("postgres is unreachable")

// Open connects to the database at url, creating the database when it is
// missing, and applies the migrations: what the worker, the receiver and
// the commands that write do.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return open(ctx, url, true)
}

// OpenExisting is Open for commands that only read: a database that does
// not exist is refused with a *MissingDatabaseError, and one that exists
// but holds no nurture schema (DATABASE_URL naming another application's
// database, or the server's "postgres") with a *MissingDatabaseError too;
// nothing is created in either, so a mistyped DATABASE_URL says so instead
// of leaving tables behind. A nurture database is migrated to this
// version, as Open does.
func OpenExisting(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return open(ctx, url, false)
}

// MissingDatabaseError is OpenExisting's error when the database the URL
// names does not exist on the server.
type MissingDatabaseError struct {
	Database string
	Host     string
	Port     uint16

	// NoSchema is set when the database exists but nurture never wrote
	// to it.
	NoSchema bool
}

func (e *MissingDatabaseError) Error() string {
	if e.NoSchema {
		return fmt.Sprintf("database %q on the server at %s:%d holds no nurture data (no %s table); check DATABASE_URL (the worker, the receiver and the commands that write set a new one up)",
			e.Database, e.Host, e.Port, schemaVersionTable)
	}
	return fmt.Sprintf("database %q does not exist on the server at %s:%d; check DATABASE_URL", e.Database, e.Host, e.Port)
}

func open(ctx context.Context, url string, create bool) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Fail in seconds, not minutes, when the server is not there.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if err := ensureDatabase(ctx, cfg, create); err != nil {
		return nil, err
	}
	return openConfig(ctx, cfg, create)
}

// OpenConfig connects with a parsed config (tests set a search_path on it)
// and applies the migrations.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	return openConfig(ctx, cfg, true)
}

// schemaVersionTable is where the migrator keeps the schema's version.
const schemaVersionTable = "nurture_schema_version"

func openConfig(ctx context.Context, cfg *pgxpool.Config, create bool) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w at %s:%d: %w", ErrUnreachable, cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if !create {
		var ours bool
		if err := pool.QueryRow(ctx, `select to_regclass($1) is not null`, schemaVersionTable).Scan(&ours); err != nil {
			pool.Close()
			return nil, fmt.Errorf("look for nurture's schema: %w", err)
		}
		if !ours {
			pool.Close()
			return nil, &MissingDatabaseError{Database: cfg.ConnConfig.Database, Host: cfg.ConnConfig.Host, Port: cfg.ConnConfig.Port, NoSchema: true}
		}
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// ensureDatabase checks the configured database exists and, when it does
// not and create is set, creates it by way of the server's maintenance
// database.
func ensureDatabase(ctx context.Context, cfg *pgxpool.Config, create bool) error {
	name := cfg.ConnConfig.Database
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("%w at %s:%d: %w", ErrUnreachable, cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if !create {
		return &MissingDatabaseError{Database: name, Host: cfg.ConnConfig.Host, Port: cfg.ConnConfig.Port}
	}
	admin := cfg.ConnConfig.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to maintenance database to create %q: %w", name, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize())
	// A concurrent start that won the race shows as duplicate_database, or
	// as a unique violation on pg_database when both inserts met.
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// Migrate applies the embedded migrations that have not run yet. Tern holds
// an advisory lock while it works, so workers starting together do not race,
// and a second run finds nothing to do.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), schemaVersionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("migrate: load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Hint is the one line a command prints when PostgreSQL is unreachable.
func Hint(err error) string {
	if !errors.Is(err, ErrUnreachable) {
		return ""
	}
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 {
		msg = msg[:i]
	}
	return msg + " — start one (on Debian: pg_ctlcluster <version> main start; or docker compose up -d postgres) or set DATABASE_URL"
}
