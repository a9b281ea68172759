package receivercmd

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/store"
)

const goodLinkSecret = "0123456789abcdef0123456789abcdef"

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-h"}, env(nil), &out, nil)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"-listen", "$LISTEN_ADDR", "-webhook-secrets", "-sendgrid-key", "-max-body-bytes", "-public-url"} {
		require.Contains(t, out.String(), want)
	}
}

func TestRefusesToStartMisconfigured(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no link secret":   {nil, "LINK_SECRET is empty"},
		"short link":       {map[string]string{"LINK_SECRET": "change-me"}, "is 9 bytes; at least 32"},
		"no webhook":       {map[string]string{"LINK_SECRET": goodLinkSecret}, "WEBHOOK_SECRETS: no webhook secret"},
		"short webhook":    {map[string]string{"LINK_SECRET": goodLinkSecret, "WEBHOOK_SECRETS": "short"}, "a webhook secret is 5 bytes; at least 32"},
		"bad sendgrid key": {map[string]string{"LINK_SECRET": goodLinkSecret, "WEBHOOK_SECRETS": goodLinkSecret, "SENDGRID_WEBHOOK_PUBLIC_KEY": "nope"}, "SENDGRID_WEBHOOK_PUBLIC_KEY"},
	} {
		var out bytes.Buffer
		err := Run(context.Background(), nil, env(tc.env), &out, nil)
		require.ErrorContains(t, err, tc.want, name)
	}
}

func TestRefusesAConsoleMisconfigured(t *testing.T) {
	t.Parallel()
	good := map[string]string{"LINK_SECRET": goodLinkSecret, "WEBHOOK_SECRETS": goodLinkSecret}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range good {
			m[k] = v
		}
		return m
	}
	var out bytes.Buffer
	err := Run(context.Background(), nil, env(with("CONSOLE_PROXY_HEADER", "X-Forwarded-User")), &out, nil)
	require.ErrorContains(t, err, "CONSOLE_PROXY_HEADER is set but CONSOLE_ACCOUNTS_FILE is not")
	accounts := filepath.Join(t.TempDir(), "good")
	require.NoError(t, os.WriteFile(accounts, []byte("ada sales -\n"), 0o600))
	noTrust := with("CONSOLE_ACCOUNTS_FILE", accounts)
	noTrust["CONSOLE_PROXY_HEADER"] = "X-Forwarded-User"
	err = Run(context.Background(), nil, env(noTrust), &out, nil)
	require.ErrorContains(t, err, "CONSOLE_PROXY_TRUSTED is not")
	noTrust["CONSOLE_PROXY_TRUSTED"] = "the proxy"
	err = Run(context.Background(), nil, env(noTrust), &out, nil)
	require.ErrorContains(t, err, `CONSOLE_PROXY_TRUSTED: proxy address "the proxy"`)
	bad := filepath.Join(t.TempDir(), "accounts")
	require.NoError(t, os.WriteFile(bad, []byte("ada boss -\n"), 0o600))
	err = Run(context.Background(), nil, env(with("CONSOLE_ACCOUNTS_FILE", bad)), &out, nil)
	require.ErrorContains(t, err, `accounts line 1: role "boss": use sales, marketer or admin`)
}

func TestSaysWhenPostgresIsUnreachable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := Run(context.Background(), nil, env(map[string]string{"LINK_SECRET": goodLinkSecret, "WEBHOOK_SECRETS": goodLinkSecret,
		"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nurture?sslmode=disable"}), &out, nil)
	require.ErrorIs(t, err, store.ErrUnreachable)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	var out bytes.Buffer
	require.NoError(t, Run(context.Background(), []string{"-check", ok.URL}, env(nil), &out, nil))
	require.ErrorContains(t, Run(context.Background(), []string{"-check", down.URL}, env(nil), &out, nil), "503 Service Unavailable")
}
