package config_test

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/internal/testcert"
)

// temporalOptions registers the settings with getenv, parses args and
// returns the client options they describe.
func temporalOptions(t *testing.T, vars map[string]string, args ...string) (*config.Config, client.Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config.Config
	c.Register(fs, env(vars))
	require.NoError(t, fs.Parse(args))
	opts, err := c.TemporalOptions(slog.New(slog.DiscardHandler))
	return &c, opts, err
}

const profiles = `
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "acme.a1b2c.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "key-from-the-file"
`

// TestTemporalSettingsFollowTemporalsEnvironmentConfiguration: a profile of
// Temporal's config file, then TEMPORAL_ variables, then flags.
func TestTemporalSettingsFollowTemporalsEnvironmentConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "temporal.toml")
	require.NoError(t, os.WriteFile(file, []byte(profiles), 0o600))

	// Nothing set: the local default.
	c, _, err := temporalOptions(t, map[string]string{"TEMPORAL_CONFIG_FILE": filepath.Join(dir, "none.toml")})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", c.TemporalAddress)
	require.Equal(t, "default", c.TemporalNamespace)

	// A Temporal Cloud profile: address, namespace, API key, and TLS on
	// because an API key is set.
	vars := map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"}
	c, o, err := temporalOptions(t, vars)
	require.NoError(t, err)
	require.Equal(t, "acme.a1b2c.tmprl.cloud:7233", o.HostPort)
	require.Equal(t, "acme.a1b2c", o.Namespace)
	require.NotNil(t, o.Credentials, "the API key")
	require.NotNil(t, o.ConnectionOptions.TLS, "TLS comes with an API key")
	require.Equal(t, "acme.a1b2c.tmprl.cloud:7233", c.TemporalAddress, "logged as connected")

	// The environment overrides the profile; a flag overrides both.
	vars["TEMPORAL_NAMESPACE"] = "acme.staging"
	_, o, err = temporalOptions(t, vars, "-temporal-address", "127.0.0.1:17233")
	require.NoError(t, err)
	require.Equal(t, "acme.staging", o.Namespace)
	require.Equal(t, "127.0.0.1:17233", o.HostPort)

	// mTLS from files, with a CA of one's own and a server name.
	files := testcert.Write(t, dir, "temporal")
	cert, key, ca := files.Cert, files.Key, files.Cert
	_, o, err = temporalOptions(t, map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_ADDRESS": "temporal.acme.internal:7233",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": cert, "TEMPORAL_TLS_CLIENT_KEY_PATH": key, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": ca, "TEMPORAL_TLS_SERVER_NAME": "temporal"})
	require.NoError(t, err)
	require.Equal(t, "temporal.acme.internal:7233", o.HostPort)
	require.NotNil(t, o.ConnectionOptions.TLS)
	require.Len(t, o.ConnectionOptions.TLS.Certificates, 1, "the client certificate")
	require.NotNil(t, o.ConnectionOptions.TLS.RootCAs, "the CA")
	require.Equal(t, "temporal", o.ConnectionOptions.TLS.ServerName)
	require.Nil(t, o.Credentials)

	// Mistakes are named.
	_, _, err = temporalOptions(t, map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"})
	require.ErrorContains(t, err, `temporal client settings: `)
	require.ErrorContains(t, err, `prod`)
	_, _, err = temporalOptions(t, map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": filepath.Join(dir, "missing.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": key})
	require.ErrorContains(t, err, "missing.pem")
}
