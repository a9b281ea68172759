package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

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

	pool, err := store.Open(ctx, dbURL)
	require.NoError(t, err, "Open creates it")
	pool.Close()
	require.True(t, exists())
	pool, err = store.OpenExisting(ctx, dbURL)
	require.NoError(t, err, "and OpenExisting opens it once it exists")
	pool.Close()
}
