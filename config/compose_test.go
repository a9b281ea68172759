package config_test

import (
	"context"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// loadCompose reads docker-compose.yml with the Compose Specification's own
// loader, with the given environment and nothing from the host's.
func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"}, cli.WithEnv(env), cli.WithName("nurture"))
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

// TestComposeFile checks docker-compose.yml as the docker compose command
// would read it (no Docker engine runs here): every service is there, the
// worker and the receiver share the settings they must agree on, secrets
// have no default, and the receiver is health-checked and reachable.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	_, err := loadCompose(t, "WEBHOOK_SECRETS=w")
	require.ErrorContains(t, err, "set LINK_SECRET to 32+ random bytes", "no default link secret")
	_, err = loadCompose(t, "LINK_SECRET=l")
	require.ErrorContains(t, err, "set WEBHOOK_SECRETS to 32+ random bytes", "no default webhook secret")

	p, err := loadCompose(t, "LINK_SECRET=link", "WEBHOOK_SECRETS=hook", "PUBLIC_URL=https://hooks.acme.test")
	require.NoError(t, err)
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "mailpit", "worker", "receiver"} {
		require.Contains(t, p.Services, name)
	}
	worker, receiver := p.Services["worker"], p.Services["receiver"]
	env := func(s types.ServiceConfig, k string) string {
		v := s.Environment[k]
		require.NotNil(t, v, "%s has no %s", s.Name, k)
		return *v
	}
	for _, k := range []string{"LINK_SECRET", "PUBLIC_URL", "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"} {
		require.Equal(t, env(worker, k), env(receiver, k), "the worker and the receiver must agree on %s", k)
	}
	require.Equal(t, "https://hooks.acme.test", env(receiver, "PUBLIC_URL"))
	require.Equal(t, "hook", env(receiver, "WEBHOOK_SECRETS"))
	require.Equal(t, []string{"/usr/local/bin/receiver"}, []string(receiver.Command))
	require.NotNil(t, receiver.HealthCheck)
	require.Equal(t, []string{"CMD", "/usr/local/bin/receiver", "-check", "http://127.0.0.1:8088/readyz"}, []string(receiver.HealthCheck.Test))
	require.Len(t, receiver.Ports, 1)
	require.Equal(t, "8088", receiver.Ports[0].Published)
	require.Equal(t, "127.0.0.1", receiver.Ports[0].HostIP, "published on loopback only")
	require.Equal(t, ":8088", env(receiver, "LISTEN_ADDR"))
	// The console's accounts reach the receiver as a file.
	require.Equal(t, "/etc/nurture/console-accounts", env(receiver, "CONSOLE_ACCOUNTS_FILE"))
	require.Len(t, receiver.Configs, 1)
	require.Equal(t, "/etc/nurture/console-accounts", receiver.Configs[0].Target)
	require.Contains(t, p.Configs[receiver.Configs[0].Source].File, "console-accounts.example")
	for _, dep := range []string{"postgres", "temporal"} {
		require.Equal(t, types.ServiceConditionHealthy, receiver.DependsOn[dep].Condition)
	}
	require.Greater(t, *receiver.StopGracePeriod, types.Duration(30e9), "longer than the receiver's 30 s drain")
	require.Greater(t, *worker.StopGracePeriod, types.Duration(30e9), "longer than the worker's 30 s drain")
}
