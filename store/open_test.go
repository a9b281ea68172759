package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

func TestOpenExistingCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL := storetest.NewDatabase(t) // a name only: dropped, if made, when the test ends
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	exists := func() bool { return storetest.DatabaseExists(ctx, t, dbURL) }

	_, err = store.OpenExisting(ctx, dbURL)
	var missing *store.MissingDatabaseError
	require.True(t, errors.As(err, &missing), "%v", err)
	require.Equal(t, name, missing.Database)
	require.EqualError(t, err, `database "`+name+`" does not exist on the server at `+u.Host+`; check DATABASE_URL`)
	require.False(t, errors.Is(err, store.ErrUnreachable), "the server answered")
	require.False(t, exists())

	// A database that exists but is not nurture's (a URL naming another
	// application's) is refused too, and left as it was.
	admin, err := pgx.Connect(ctx, storetest.URL())
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	_, err = store.OpenExisting(ctx, dbURL)
	require.True(t, errors.As(err, &missing), "%v", err)
	require.True(t, missing.NoSchema)
	require.EqualError(t, err, `database "`+name+`" on the server at `+u.Host+` holds no nurture data (no nurture_schema_version table); check DATABASE_URL (the worker, the receiver and the commands that write set a new one up)`)
	other, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	var tables int
	require.NoError(t, other.QueryRow(ctx, `select count(*) from information_schema.tables where table_schema = 'public'`).Scan(&tables))
	require.NoError(t, other.Close(ctx))
	require.Zero(t, tables, "nothing was created in it")

	pool, err := store.Open(ctx, dbURL)
	require.NoError(t, err, "Open sets it up")
	pool.Close()
	require.True(t, exists())
	pool, err = store.OpenExisting(ctx, dbURL)
	require.NoError(t, err, "and OpenExisting opens it once it exists")
	pool.Close()
}
