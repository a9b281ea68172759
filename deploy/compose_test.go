package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/goccy/go-yaml"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/workflows"
)

// composeFile is the file under test, from this package's directory.
const composeFile = "../docker-compose.yml"

// load reads docker-compose.yml as `docker compose config` would, with the
// given profiles and environment and nothing from the host's environment or
// a .env file. Relative paths come back absolute, from the repository's
// top. Secret files need not exist: the loader does not open them (compose
// does, when it starts a service that mounts one).
func load(t *testing.T, profiles []string, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithEnv(env),
		cli.WithName("nurture"),
		cli.WithProfiles(profiles),
		cli.WithResolvedPaths(true),
	)
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err)
	return p
}

// Services that run once and exit; the others run until stopped.
var oneShots = []string{"temporal-schema", "temporal-namespace", "publish"}

// publishedPorts are the only ports the stack publishes on the host: service
// and container port, and the variable that moves it on the host. Each
// carries its reason in the file (x-reason).
var publishedPorts = map[string]string{
	"postgres/5432":    "NURTURE_POSTGRES_PORT",
	"temporal/7233":    "NURTURE_TEMPORAL_PORT",
	"temporal-ui/8080": "NURTURE_TEMPORAL_UI_PORT",
	"mailpit/8025":     "NURTURE_MAILPIT_PORT",
	"mailpit/1025":     "NURTURE_SMTP_PORT",
	"receiver/8088":    "NURTURE_RECEIVER_PORT",
	"prometheus/9090":  "NURTURE_PROMETHEUS_PORT",
	"grafana/3000":     "NURTURE_GRAFANA_PORT",
}

// searchAttributes are the search attributes nurture's workflows set, with
// their types as the temporal CLI names them (Keyword, Int).
func searchAttributes() map[string]string {
	out := map[string]string{}
	for name, kind := range workflows.SearchAttributes() {
		k := strings.TrimPrefix(kind.String(), "INDEXED_VALUE_TYPE_")
		out[name] = k[:1] + strings.ToLower(k[1:])
	}
	return out
}

func env(t *testing.T, s types.ServiceConfig, key string) string {
	t.Helper()
	v, ok := s.Environment[key]
	require.True(t, ok && v != nil, "%s has no %s", s.Name, key)
	return *v
}

func healthChecked(s types.ServiceConfig) bool {
	return s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0
}

// TestComposeFile checks docker-compose.yml as the docker compose command
// reads it (no Docker engine runs here): every service has an image or a
// build, starts after what it needs in the right state, mounts only
// secrets and configs that are defined, publishes no port without a
// reason, and restarts as a service of its kind should.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	p := load(t, []string{"monitoring"})
	top := filepath.Dir(p.ComposeFiles[0])

	for name, s := range p.Services {
		require.True(t, s.Image != "" || s.Build != nil, "%s has neither an image nor a build", name)
		if s.Build == nil {
			require.NotContains(t, s.Image, ":latest", "%s: pin a version", name)
			require.Contains(t, s.Image, ":", "%s: pin a version", name)
		}

		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			require.True(t, ok, "%s depends on %s, which is not a service", name, dep)
			switch d.Condition {
			case types.ServiceConditionHealthy:
				require.True(t, healthChecked(target), "%s waits for %s to be healthy, which has no health check", name, dep)
			case types.ServiceConditionCompletedSuccessfully:
				require.Contains(t, oneShots, dep, "%s waits for %s to complete, which is not a one-shot", name, dep)
			case types.ServiceConditionStarted:
			default:
				t.Fatalf("%s depends on %s with condition %q", name, dep, d.Condition)
			}
		}

		mounted := map[string]bool{}
		for _, ref := range s.Secrets {
			def, ok := p.Secrets[ref.Source]
			require.True(t, ok, "%s mounts secret %s, which is not defined", name, ref.Source)
			require.Equal(t, filepath.Join(top, "secrets", ref.Source), def.File, "secret %s: a file in ./secrets named after it", ref.Source)
			require.Contains(t, []string{"", "/run/secrets/" + ref.Source}, ref.Target, "%s: secret %s at /run/secrets/%[2]s", name, ref.Source)
			mounted[ref.Source] = true
		}
		// Every secret a service refers to (a _FILE variable, a passfile,
		// its command) is one it mounts, and it mounts none it does not use.
		text := strings.Join(append(slices.Clone([]string(s.Command)), s.Entrypoint...), " ")
		for k, v := range s.Environment {
			require.NotNil(t, v, "%s: %s has no value", name, k)
			text += " " + *v
			if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(*v, "/run/secrets/") {
				require.True(t, mounted[strings.TrimPrefix(*v, "/run/secrets/")], "%s: %s=%s is not a secret it mounts", name, k, *v)
			}
		}
		for _, m := range regexp.MustCompile(`/run/secrets/([a-z_]+)`).FindAllStringSubmatch(text, -1) {
			require.True(t, mounted[m[1]], "%s refers to secret %s without mounting it", name, m[1])
		}
		for secret := range mounted {
			require.Contains(t, text, "/run/secrets/"+secret, "%s mounts secret %s and uses it nowhere", name, secret)
		}

		for _, ref := range s.Configs {
			def, ok := p.Configs[ref.Source]
			require.True(t, ok, "%s mounts config %s, which is not defined", name, ref.Source)
			require.FileExists(t, def.File, "config %s", ref.Source)
			require.NotEmpty(t, ref.Target, "%s: config %s needs a target", name, ref.Source)
		}

		for _, port := range s.Ports {
			key := fmt.Sprintf("%s/%d", name, port.Target)
			_, allowed := publishedPorts[key]
			require.True(t, allowed, "%s is published without a reason in this test's list", key)
			require.Equal(t, "127.0.0.1", port.HostIP, "%s: loopback only", key)
			reason, _ := port.Extensions["x-reason"].(string)
			require.NotEmpty(t, strings.TrimSpace(reason), "%s: say why it is published (x-reason)", key)
		}

		if slices.Contains(oneShots, name) {
			require.True(t, s.Restart == types.RestartPolicyNo || strings.HasPrefix(s.Restart, "on-failure"),
				"%s runs once: restart no or on-failure, not %q", name, s.Restart)
		} else {
			require.Contains(t, []string{types.RestartPolicyUnlessStopped, types.RestartPolicyAlways}, s.Restart, "%s runs until stopped and comes back after a crash or a reboot", name)
		}
	}
	for _, name := range oneShots {
		require.Contains(t, p.Services, name)
	}

	// No secret in the environment, and none with a default: every one is a
	// file.
	for name, s := range p.Services {
		for k, v := range s.Environment {
			if strings.HasSuffix(k, "_FILE") || k == "SENDGRID_WEBHOOK_PUBLIC_KEY" {
				continue
			}
			require.NotRegexp(t, `SECRET|PASSWORD|PWD|TOKEN|API_KEY`, k, "%s: %s belongs in a secret file", name, k)
			if k == "DATABASE_URL" {
				u, err := url.Parse(*v)
				require.NoError(t, err)
				_, hasPassword := u.User.Password()
				require.False(t, hasPassword, "%s: DATABASE_URL with a password in it", name)
				require.Equal(t, "/run/secrets/pgpass", u.Query().Get("passfile"), "%s: the password comes from the pgpass secret", name)
			}
		}
	}
}

// TestComposeOrder checks the start-up order: Temporal's schema, then the
// server, then the namespace; the journeys are published before nurture's
// worker and receiver start, and those wait for everything they dial at
// start.
func TestComposeOrder(t *testing.T) {
	t.Parallel()
	p := load(t, nil)
	condition := func(service, dep string) string {
		t.Helper()
		d, ok := p.Services[service].DependsOn[dep]
		require.True(t, ok, "%s does not depend on %s", service, dep)
		return d.Condition
	}
	require.Equal(t, types.ServiceConditionHealthy, condition("temporal-schema", "postgres"))
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, condition("temporal", "temporal-schema"))
	require.Equal(t, types.ServiceConditionHealthy, condition("temporal-namespace", "temporal"))
	require.Equal(t, types.ServiceConditionHealthy, condition("temporal-ui", "temporal"))
	require.Equal(t, types.ServiceConditionHealthy, condition("publish", "postgres"))
	for _, name := range []string{"worker", "receiver"} {
		require.Equal(t, types.ServiceConditionCompletedSuccessfully, condition(name, "publish"))
		require.Equal(t, types.ServiceConditionCompletedSuccessfully, condition(name, "temporal-namespace"))
		require.Equal(t, types.ServiceConditionHealthy, condition(name, "postgres"))
		require.Equal(t, types.ServiceConditionHealthy, condition(name, "temporal"))
		require.Greater(t, *p.Services[name].StopGracePeriod, types.Duration(30e9), "%s: longer than its 30 s drain", name)
	}
	require.Equal(t, types.ServiceConditionHealthy, condition("worker", "mailpit"))
	require.Equal(t, types.RestartPolicyNo, p.Services["publish"].Restart, "a journey that fails to publish fails again: stop and say why")
}

// TestComposeServices checks what the services must agree on: the worker
// and the receiver share their settings, the namespace set up is the one
// they use, with nurture's search attributes, and the journeys published
// are the ones the repository ships, from where the image has them.
func TestComposeServices(t *testing.T) {
	t.Parallel()
	p := load(t, nil, "PUBLIC_URL=https://hooks.acme.test", "TEMPORAL_NAMESPACE=marketing", "TEMPORAL_RETENTION=90d")
	top := filepath.Dir(p.ComposeFiles[0])
	worker, receiver := p.Services["worker"], p.Services["receiver"]

	for _, k := range []string{"LINK_SECRET_FILE", "PAYLOAD_KEYS_FILE", "PUBLIC_URL", "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"} {
		require.Equal(t, env(t, worker, k), env(t, receiver, k), "the worker and the receiver must agree on %s", k)
	}
	require.Equal(t, "https://hooks.acme.test", env(t, receiver, "PUBLIC_URL"))
	require.Equal(t, "/run/secrets/webhook_secrets", env(t, receiver, "WEBHOOK_SECRETS_FILE"))
	require.Equal(t, "/run/secrets/payload_keys", env(t, worker, "PAYLOAD_KEYS_FILE"))
	// Temporal's UI decodes payloads through the console, which answers
	// the UI's origin.
	ui := p.Services["temporal-ui"]
	require.Equal(t, "http://localhost:8088/console/codec", env(t, ui, "TEMPORAL_CODEC_ENDPOINT"))
	require.Equal(t, "true", env(t, ui, "TEMPORAL_CODEC_INCLUDE_CREDENTIALS"))
	require.Equal(t, "http://localhost:8080", env(t, receiver, "CONSOLE_CODEC_ORIGINS"))
	require.Equal(t, env(t, worker, "DATABASE_URL"), env(t, p.Services["publish"], "DATABASE_URL"))

	// The receiver's health check asks the port it listens on.
	require.Equal(t, ":8088", env(t, receiver, "LISTEN_ADDR"))
	require.Equal(t, []string{"CMD", "/usr/local/bin/receiver", "-check", "http://127.0.0.1:8088/readyz"}, []string(receiver.HealthCheck.Test))
	require.Equal(t, []string{"CMD", "/usr/local/bin/receiver", "-check", "http://127.0.0.1:9464/readyz"}, []string(worker.HealthCheck.Test))
	require.Equal(t, ":9464", env(t, worker, "METRICS_LISTEN_ADDR"))
	require.Equal(t, "/etc/nurture/console-accounts", env(t, receiver, "CONSOLE_ACCOUNTS_FILE"))
	// The send rate's defaults are the worker's own, written out so an
	// operator sees them.
	require.Equal(t, strconv.Itoa(config.DefaultSendRate), env(t, worker, "SEND_RATE"))
	require.Equal(t, strconv.Itoa(config.DefaultSendRatePerWorker), env(t, worker, "SEND_RATE_PER_WORKER"))
	require.Equal(t, strconv.Itoa(config.DefaultSendRatePerDomain), env(t, worker, "SEND_RATE_PER_DOMAIN"))

	// The namespace: the one the worker polls, its retention, and nurture's
	// search attributes, each with its type.
	ns := p.Services["temporal-namespace"]
	require.Equal(t, "marketing", env(t, ns, "TEMPORAL_NAMESPACE"))
	require.Equal(t, env(t, worker, "TEMPORAL_NAMESPACE"), env(t, ns, "TEMPORAL_NAMESPACE"))
	require.Equal(t, "90d", env(t, ns, "TEMPORAL_RETENTION"))
	require.Equal(t, "marketing", env(t, p.Services["temporal-ui"], "TEMPORAL_DEFAULT_NAMESPACE"))
	script, err := os.ReadFile(p.Configs[ns.Configs[0].Source].File)
	require.NoError(t, err)
	require.Equal(t, []string{ns.Configs[0].Target}, []string(ns.Command))
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`--name (\w+) --type (\w+)`).FindAllStringSubmatch(string(script), -1) {
		got[m[1]] = m[2]
	}
	want := searchAttributes()
	require.Equal(t, want, got, "setup-namespace.sh adds the search attributes of workflows.SearchAttributes")
	waits := regexp.MustCompile(`for name in ([\w ]+); do`).FindStringSubmatch(string(script))
	require.NotNil(t, waits, "setup-namespace.sh waits for the attributes")
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), strings.Fields(waits[1]), "and waits for each")

	// Temporal's schema set-up and server read the database password from
	// the secret; nothing else carries it.
	schema := p.Services["temporal-schema"]
	require.Equal(t, "/run/secrets/postgres_password", env(t, schema, "POSTGRES_PASSWORD_FILE"))
	require.Equal(t, []string{schema.Configs[0].Target}, []string(schema.Command))
	require.Equal(t, "/run/secrets/postgres_password", env(t, p.Services["postgres"], "POSTGRES_PASSWORD_FILE"))
	require.Contains(t, strings.Join(p.Services["temporal"].Command, " "), "POSTGRES_PWD=$(cat /run/secrets/postgres_password)")
	require.Equal(t, env(t, p.Services["postgres"], "POSTGRES_USER"), env(t, schema, "POSTGRES_USER"))
	for _, k := range []string{"POSTGRES_SEEDS", "DB_PORT", "POSTGRES_USER", "DBNAME", "VISIBILITY_DBNAME"} {
		require.Equal(t, env(t, schema, k), env(t, p.Services["temporal"], k), "Temporal's server uses the databases temporal-schema made: %s", k)
	}

	// The publish service publishes every journey the repository ships,
	// from where the Dockerfile puts them in the image.
	const inImage = "/usr/share/nurture/journeys/"
	cmd := p.Services["publish"].Command
	require.Equal(t, []string{"/usr/local/bin/starter", "publish"}, []string(cmd[:2]))
	var published []string
	for _, f := range cmd[2:] {
		require.True(t, strings.HasPrefix(f, inImage), "%s is not where the image has the journeys", f)
		published = append(published, "journeys/"+strings.TrimPrefix(f, inImage))
	}
	shipped, err := filepath.Glob(filepath.Join(top, "journeys", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, shipped)
	for i, f := range shipped {
		shipped[i], err = filepath.Rel(top, f)
		require.NoError(t, err)
	}
	require.ElementsMatch(t, shipped, published, "publish every shipped journey")
	dockerfile, err := os.ReadFile(filepath.Join(top, "Dockerfile"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^COPY journeys/\*\.yaml `+regexp.QuoteMeta(inImage)+`$`, string(dockerfile))

	// Every program the services run is in the image: the one binary, or
	// a link to it by the program's name (starter/main.go's programs).
	inBin := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:-o /out/|ln -s starter /out/)(\w+)`).FindAllStringSubmatch(string(dockerfile), -1) {
		inBin[m[1]] = true
	}
	require.Regexp(t, `(?m)^COPY --from=build /out/ /usr/local/bin/$`, string(dockerfile))
	for name, svc := range p.Services {
		for _, args := range [][]string{svc.Command, healthTest(svc)} {
			for _, a := range args {
				if prog, ok := strings.CutPrefix(a, "/usr/local/bin/"); ok {
					require.True(t, inBin[prog], "%s runs %s, which the Dockerfile does not put in the image", name, a)
				}
			}
		}
	}
}

func healthTest(s types.ServiceConfig) []string {
	if s.HealthCheck == nil {
		return nil
	}
	return s.HealthCheck.Test
}

// TestComposePorts checks that every published port moves with its variable.
func TestComposePorts(t *testing.T) {
	t.Parallel()
	var vars []string
	want := map[string]string{}
	n := 20000
	for _, key := range slices.Sorted(maps.Keys(publishedPorts)) {
		n++
		vars = append(vars, fmt.Sprintf("%s=%d", publishedPorts[key], n))
		want[key] = fmt.Sprint(n)
	}
	p := load(t, []string{"monitoring"}, vars...)
	got := map[string]string{}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			got[fmt.Sprintf("%s/%d", name, port.Target)] = port.Published
		}
	}
	require.Equal(t, want, got)
	// The links in emails follow the receiver to its port, unless
	// PUBLIC_URL says otherwise.
	require.Equal(t, "http://localhost:"+want["receiver/8088"], env(t, p.Services["worker"], "PUBLIC_URL"))

	// The defaults are the ports each program is known by.
	p = load(t, []string{"monitoring"})
	for name, s := range p.Services {
		for _, port := range s.Ports {
			require.Equal(t, fmt.Sprint(port.Target), port.Published, "%s", name)
		}
	}
}

// TestComposeMonitoring checks that Prometheus and Grafana run only in the
// monitoring profile, that Prometheus scrapes where the services serve
// their metrics, and that Grafana's dashboard parses, uses the data source
// provisioned beside it and shows nurture's metrics.
func TestComposeMonitoring(t *testing.T) {
	t.Parallel()
	monitoring := []string{"prometheus", "grafana"}
	plain := load(t, nil)
	for _, name := range monitoring {
		require.NotContains(t, plain.Services, name, "the default stack stays small")
		require.Contains(t, plain.DisabledServices, name)
	}
	p := load(t, []string{"monitoring"})
	for name, s := range p.Services {
		if slices.Contains(monitoring, name) {
			require.Equal(t, []string{"monitoring"}, s.Profiles, name)
		} else {
			require.Empty(t, s.Profiles, "%s is part of the default stack", name)
		}
	}

	// Prometheus scrapes each worker and receiver replica at the port it
	// serves metrics on, and the Temporal server at its metrics endpoint.
	var prom struct {
		ScrapeConfigs []struct {
			JobName     string `yaml:"job_name"`
			MetricsPath string `yaml:"metrics_path"`
			DNS         []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
			Static []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, p.Configs["prometheus-config"].File, &prom)
	require.Equal(t, "/etc/prometheus/prometheus.yml", p.Services["prometheus"].Configs[0].Target)
	require.Contains(t, []string(p.Services["prometheus"].Command), "--config.file=/etc/prometheus/prometheus.yml")
	scraped := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		require.Contains(t, []string{"", "/metrics"}, sc.MetricsPath, sc.JobName)
		for _, d := range sc.DNS {
			require.Equal(t, "A", d.Type)
			for _, name := range d.Names {
				scraped[name] = fmt.Sprint(d.Port)
			}
		}
		for _, s := range sc.Static {
			for _, target := range s.Targets {
				host, port, ok := strings.Cut(target, ":")
				require.True(t, ok, target)
				scraped[host] = port
			}
		}
	}
	port := func(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }
	require.Equal(t, map[string]string{
		"worker":   port(env(t, p.Services["worker"], "METRICS_LISTEN_ADDR")),
		"receiver": port(env(t, p.Services["receiver"], "LISTEN_ADDR")),
		"temporal": port(env(t, p.Services["temporal"], "PROMETHEUS_ENDPOINT")),
	}, scraped)

	// Grafana: the data source, the dashboards provider and the dashboard.
	grafana := p.Services["grafana"]
	targets := map[string]string{}
	for _, c := range grafana.Configs {
		targets[c.Source] = c.Target
	}
	var datasources struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, p.Configs["grafana-datasource"].File, &datasources)
	require.Len(t, datasources.Datasources, 1)
	ds := datasources.Datasources[0]
	require.Equal(t, "prometheus", ds.Type)
	require.Equal(t, "http://prometheus:9090", ds.URL)
	require.Equal(t, "9090", fmt.Sprint(p.Services["prometheus"].Ports[0].Target))
	require.True(t, strings.HasPrefix(targets["grafana-datasource"], "/etc/grafana/provisioning/datasources/"))

	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, p.Configs["grafana-dashboards"].File, &providers)
	require.Len(t, providers.Providers, 1)
	require.True(t, strings.HasPrefix(targets["grafana-dashboards"], "/etc/grafana/provisioning/dashboards/"))
	require.Equal(t, providers.Providers[0].Options.Path, filepath.Dir(targets["grafana-dashboard-nurture"]), "the provider reads the directory the dashboard is mounted in")
	require.Equal(t, "/run/secrets/grafana_admin_password", env(t, grafana, "GF_SECURITY_ADMIN_PASSWORD__FILE"))

	raw, err := os.ReadFile(p.Configs["grafana-dashboard-nurture"].File)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(filepath.Dir(p.ComposeFiles[0]), "deploy", "grafana", "dashboards", "nurture.json"), p.Configs["grafana-dashboard-nurture"].File)
	var dashboard struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dashboard), "nurture.json is JSON")
	require.Equal(t, "nurture", dashboard.UID)
	var exprs []string
	for _, panel := range dashboard.Panels {
		require.NotEmpty(t, panel.Title)
		require.Equal(t, ds.UID, panel.Datasource.UID, "panel %q uses the provisioned data source", panel.Title)
		require.NotEmpty(t, panel.Targets, "panel %q has no query", panel.Title)
		for _, target := range panel.Targets {
			require.Equal(t, ds.UID, target.Datasource.UID, "panel %q", panel.Title)
			require.Equal(t, strings.Count(target.Expr, "("), strings.Count(target.Expr, ")"), "panel %q: %s", panel.Title, target.Expr)
			exprs = append(exprs, target.Expr)
		}
	}
	all := strings.Join(exprs, "\n")
	for _, metric := range []string{
		"nurture_emails_total",
		"nurture_events_received_total",
		"nurture_events_processed_total",
		"nurture_handoffs_total",
		"nurture_verdicts_total",
		"nurture_leads",
		"nurture_http_request_duration_seconds_bucket",
		"temporal_workflow_task_execution_latency_seconds_bucket",
		"temporal_activity_execution_failed_total",
		"temporal_workflow_completed_total",
	} {
		require.Contains(t, all, metric, "the dashboard shows %s", metric)
	}
	for _, q := range []string{"histogram_quantile(0.5, sum by (le, endpoint)", "histogram_quantile(0.99, sum by (le, endpoint)", "sum by (status)", "sum by (verdict)", "max by (lifecycle)"} {
		require.Contains(t, all, q)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

// TestSecretsScript runs deploy/secrets.sh: it makes every file the compose
// file mounts as a secret, each secret 32 bytes or more, and the pgpass file
// from PostgreSQL's password; run again, it keeps them.
func TestSecretsScript(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here", tool)
		}
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	run := func() {
		out, err := exec.Command("sh", "secrets.sh", dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	run()
	p := load(t, []string{"monitoring"})
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	first := map[string]string{}
	for name := range p.Secrets {
		info, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, "secrets.sh makes %s", name)
		require.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "%s: readable by the containers' own users", name)
		first[name] = read(name)
		if name != "pgpass" {
			require.GreaterOrEqual(t, len(first[name]), 32, name)
		}
	}
	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	require.Equal(t, "*:*:*:*:"+first["postgres_password"], first["pgpass"])
	require.NotEqual(t, first["link_secret"], first["webhook_secrets"])

	// nurture's programs find PostgreSQL's password through the passfile
	// their DATABASE_URL names (pgx reads it as libpq would).
	for _, name := range []string{"worker", "receiver", "publish"} {
		u, err := url.Parse(env(t, p.Services[name], "DATABASE_URL"))
		require.NoError(t, err)
		q := u.Query()
		q.Set("passfile", filepath.Join(dir, "pgpass"))
		u.RawQuery = q.Encode()
		cfg, err := pgxpool.ParseConfig(u.String())
		require.NoError(t, err)
		require.Equal(t, first["postgres_password"], cfg.ConnConfig.Password, name)
		require.Equal(t, env(t, p.Services["postgres"], "POSTGRES_USER"), cfg.ConnConfig.User, name)
	}

	run()
	for name := range p.Secrets {
		require.Equal(t, first[name], read(name), "%s is kept", name)
	}
}

// TestScripts checks the shell scripts parse, since no container runs them
// here.
func TestScripts(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh here")
	}
	scripts, err := filepath.Glob("*.sh")
	require.NoError(t, err)
	more, err := filepath.Glob("temporal/*.sh")
	require.NoError(t, err)
	scripts = append(scripts, more...)
	require.Len(t, scripts, 3)
	for _, s := range scripts {
		out, err := exec.Command("sh", "-n", s).CombinedOutput()
		require.NoError(t, err, "%s: %s", s, out)
	}
}

// TestComposeOverrideExample loads the CRM override that the compose file's
// header shows, beside the file, as compose would: the worker then mounts
// the CRM secret as well as its own and finds it through its _FILE
// variable.
func TestComposeOverrideExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(composeFile)
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(raw), "which compose reads beside this file:\n")
	require.True(t, ok, "the header shows the override")
	var lines []string
	for _, line := range strings.Split(rest, "\n") {
		text, ok := strings.CutPrefix(line, "#   ")
		if !ok {
			break
		}
		lines = append(lines, text)
	}
	require.NotEmpty(t, lines)
	override := filepath.Join(t.TempDir(), "docker-compose.override.yml")
	require.NoError(t, os.WriteFile(override, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	opts, err := cli.NewProjectOptions([]string{composeFile, override}, cli.WithName("nurture"), cli.WithResolvedPaths(true))
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err)
	top := filepath.Dir(p.ComposeFiles[0])
	worker := p.Services["worker"]
	require.Equal(t, "/run/secrets/crm_webhook_secret", env(t, worker, "CRM_WEBHOOK_SECRET_FILE"))
	require.Equal(t, "https://crm.example.com/nurture", env(t, worker, "CRM_WEBHOOK_URL"))
	var mounted []string
	for _, s := range worker.Secrets {
		mounted = append(mounted, s.Source)
	}
	require.ElementsMatch(t, []string{"pgpass", "link_secret", "payload_keys", "crm_webhook_secret"}, mounted)
	require.Equal(t, filepath.Join(top, "secrets", "crm_webhook_secret"), p.Secrets["crm_webhook_secret"].File)
	require.Equal(t, "/run/secrets/link_secret", env(t, worker, "LINK_SECRET_FILE"), "the rest of the worker's settings stay")
}
