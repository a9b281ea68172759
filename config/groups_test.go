package config_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/config"
)

func TestRegisterGroupsDeclaresOnlyTheirFlags(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{"DATABASE_URL": "postgres://db/nurture", "SMTP_HOST": "mail.acme.test"})
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var c config.Config
	c.RegisterGroups(fs, getenv, config.Database|config.Temporal)
	for _, name := range []string{"database-url", "temporal-address", "temporal-namespace", "temporal-profile", "task-queue"} {
		require.NotNil(t, fs.Lookup(name), name)
	}
	for _, name := range []string{"smtp-host", "link-secret", "listen", "console-accounts", "crm-url", "log-level", "metrics-listen"} {
		require.Nil(t, fs.Lookup(name), name)
	}
	require.NoError(t, fs.Parse(nil))
	require.Equal(t, "postgres://db/nurture", c.DatabaseURL)
	require.Empty(t, c.SMTP.Host, "a group not registered is not read")

	all := flag.NewFlagSet("all", flag.ContinueOnError)
	var d config.Config
	d.Register(all, getenv)
	for _, name := range []string{"database-url", "temporal-address", "smtp-host", "mail-from", "link-secret", "tracking", "listen", "webhook-secrets",
		"max-body-bytes", "console-accounts", "console-proxy-trusted", "crm-url", "crm-secret", "log-level", "log-format", "metrics-listen"} {
		require.NotNil(t, all.Lookup(name), "Register declares every setting: %s", name)
	}
}

func TestLogFormat(t *testing.T) {
	t.Parallel()
	logger := func(getenv config.Getenv, args ...string) (string, error) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c config.Config
		c.RegisterGroups(fs, getenv, config.Logging)
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		var out bytes.Buffer
		log := c.Logger(&out)
		log.Info("worker started", "task_queue", "nurture")
		log.Debug("not at info")
		return out.String(), c.Check(getenv)
	}
	out, err := logger(env(map[string]string{"LOG_FORMAT": "json"}))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1, out)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line), "one JSON object a line")
	require.Equal(t, "worker started", line["msg"])
	require.Equal(t, "INFO", line["level"])
	require.Equal(t, "nurture", line["task_queue"])

	out, err = logger(env(nil), "-log-level", "debug")
	require.NoError(t, err)
	require.Contains(t, out, `level=INFO msg="worker started" task_queue=nurture`, "text by default")
	require.Contains(t, out, "not at info")

	_, err = logger(env(nil), "-log-format", "xml")
	require.ErrorContains(t, err, `invalid value "xml" for flag -log-format: LOG_FORMAT "xml": use text or json`)
	_, err = logger(env(nil), "-log-level", "loud")
	require.ErrorContains(t, err, `LOG_LEVEL "loud"`)
	_, err = logger(env(map[string]string{"LOG_FORMAT": "jsonl"}))
	require.ErrorContains(t, err, `LOG_FORMAT "jsonl": use text or json`, "Check reports one from the environment")
}
