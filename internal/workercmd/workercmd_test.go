package workercmd

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/store"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"-temporal-address", "$TEMPORAL_ADDRESS", "-database-url", "$DATABASE_URL", "-smtp-host", "-link-secret"} {
		require.Contains(t, out.String(), want)
	}
}

func TestRefusesToStartMisconfigured(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := Run(context.Background(), nil, func(string) string { return "" }, &out)
	require.ErrorContains(t, err, "LINK_SECRET is empty")
}

func TestSaysWhenPostgresIsUnreachable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{"LINK_SECRET": "0123456789abcdef0123456789abcdef", "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nurture?sslmode=disable"}[k]
	}
	err := Run(context.Background(), nil, getenv, &out)
	require.ErrorIs(t, err, store.ErrUnreachable)
}
