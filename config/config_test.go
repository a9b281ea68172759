package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/config"
)

func env(m map[string]string) config.Getenv { return func(k string) string { return m[k] } }

func TestEnvironmentWithFlagOverrides(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("from-file-0123456789abcdef0123456789\n"), 0o600))
	hooks := filepath.Join(t.TempDir(), "webhook-secrets")
	require.NoError(t, os.WriteFile(hooks, []byte("hook-new-0123456789abcdef0123456789,hook-old-0123456789abcdef0123456789\n"), 0o600))
	getenv := env(map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "SMTP_PORT": "2525", "LINK_SECRET_FILE": secret, "WEBHOOK_SECRETS_FILE": hooks})
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var c config.Config
	c.Register(fs, getenv)
	require.NoError(t, fs.Parse([]string{"-smtp-host", "mail.acme.test"}))
	require.Equal(t, "temporal:7233", c.TemporalAddress, "from the environment")
	require.Equal(t, 2525, c.SMTP.Port)
	require.Equal(t, "mail.acme.test", c.SMTP.Host, "a flag overrides")
	require.Equal(t, "from-file-0123456789abcdef0123456789", c.LinkSecret, "secrets can come from files")
	require.Equal(t, "hook-new-0123456789abcdef0123456789,hook-old-0123456789abcdef0123456789", c.WebhookSecrets, "the receiver's too")
	require.Equal(t, "nurture", c.TaskQueue, "defaults")
	require.NoError(t, c.Check(getenv))
}

func TestCheckSaysEverythingThatIsWrong(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{"LINK_SECRET_FILE": "/no/such/file", "LOG_LEVEL": "loud", "EMAIL_PROVIDER": "postmark"})
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config.Config
	c.Register(fs, getenv)
	require.NoError(t, fs.Parse(nil))
	err := c.Check(getenv)
	require.ErrorContains(t, err, "LINK_SECRET_FILE: open /no/such/file")
	require.ErrorContains(t, err, "LINK_SECRET is empty")
	require.ErrorContains(t, err, `LOG_LEVEL "loud"`)
	require.ErrorContains(t, err, `EMAIL_PROVIDER "postmark"`)

	short := env(map[string]string{"LINK_SECRET": "change-me"})
	var d config.Config
	d.Register(flag.NewFlagSet("y", flag.ContinueOnError), short)
	require.ErrorContains(t, d.Check(short), "LINK_SECRET: link secret \"1\" is 9 bytes; at least 32 are needed")

	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CRM_WEBHOOK_URL": "crm.acme.test/hooks"}, `CRM_WEBHOOK_URL "crm.acme.test/hooks" is not an http(s) URL`},
		{map[string]string{"CRM_WEBHOOK_URL": "https://crm.acme.test/hooks"}, "CRM_WEBHOOK_URL is set but CRM_WEBHOOK_SECRET is not"},
		{map[string]string{"CRM_WEBHOOK_SECRET": "short"}, "CRM_WEBHOOK_SECRET is 5 bytes; at least 32"},
		{map[string]string{"PAYLOAD_KEYS": "k1=short"}, `PAYLOAD_KEYS: payload secret "k1" is 5 bytes; at least 32 are needed`},
		{map[string]string{"PAYLOAD_KEYS_FILE": "/no/such/keys"}, "PAYLOAD_KEYS_FILE: open /no/such/keys"},
	} {
		e := env(c.env)
		var cfg config.Config
		cfg.Register(flag.NewFlagSet("z", flag.ContinueOnError), e)
		require.ErrorContains(t, cfg.Check(e), c.want)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	require.Zero(t, config.ExitCode("worker", nil, &out))
	require.Zero(t, config.ExitCode("worker", flag.ErrHelp, &out))
	require.Empty(t, out.String())
	require.Equal(t, 1, config.ExitCode("worker", errors.New("boom"), &out))
	require.Equal(t, "worker: boom\n", out.String())
}
