// Package config reads nurture's settings from environment variables, with
// command-line flags to override them; every binary shares these names, so
// an operator configures the worker, the receiver and the starter alike.
// Secrets can also come from files (VAR_FILE), as container platforms mount
// them.
package config

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/store"
)

// DefaultTaskQueue is where workers poll and journeys start unless
// TEMPORAL_TASK_QUEUE says otherwise.
const DefaultTaskQueue = "nurture"

// Config is every setting.
type Config struct {
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	DatabaseURL       string
	SMTP              email.Config
	SalesEmail        string
	PublicURL         string
	// LinkSecret is one secret, or "id=secret,id2=secret2" for rotation
	// (the first signs, all verify); see package links.
	LinkSecret string
	LogLevel   string
	// LogFormat is LogText or LogJSON.
	LogFormat string
	// EmailProvider adds a provider's metadata headers to outgoing mail so
	// its event webhook ties events to our sends: "" or "sendgrid".
	EmailProvider string
	// Tracking rewrites links to tracked click links and adds an open
	// pixel: "on" or "off".
	Tracking string

	// The receiver's settings.
	ListenAddr string
	// WebhookSecrets sign requests from machines (websites, forms, the
	// CRM): comma-separated, all accepted, for rotation.
	WebhookSecrets string
	// SendGridKey is the public key of SendGrid's signed event webhook.
	SendGridKey    string
	DefaultJourney string
	MaxBodyBytes   int64

	// CRMURL receives every hand-off, signed with CRMSecret (the worker's
	// settings; a journey's handoff.crm_url overrides the URL).
	CRMURL    string
	CRMSecret string

	// The rate of journey emails (the worker's; see package
	// journeyworker): SendRate emails a second across every worker,
	// SendRatePerWorker from each, SendRatePerDomain a minute to one
	// recipient domain. Zero is no limit.
	SendRate          float64
	SendRatePerWorker float64
	// WorkflowCacheSize is how many journeys a worker keeps in memory
	// (the SDK's sticky workflow cache, process-wide).
	WorkflowCacheSize int
	SendRatePerDomain int

	// The console's settings (package console): the accounts file, and
	// the header a single sign-on proxy names the signed-in user in.
	ConsoleAccountsFile string
	ConsoleProxyHeader  string
	// ConsoleProxyTrusted are the proxy's addresses: the header is
	// believed only from them.
	ConsoleProxyTrusted string
	// ConsoleCodecOrigins are the Temporal UI origins the console's codec
	// endpoint answers (comma-separated).
	ConsoleCodecOrigins string

	// TemporalProfile names the profile of Temporal's client config file
	// (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) to connect with.
	TemporalProfile string
	// TemporalMetrics, when the process sets it, receives the Temporal
	// client's metrics.
	TemporalMetrics client.MetricsHandler
	// PayloadKeys seal what Temporal stores (package codec):
	// "id=secret,id2=secret2", the first sealing, all opening. Empty
	// stores payloads in plain text, and the processes say so.
	PayloadKeys string
	// Codec is the payload codec DialTemporal made (nil without
	// PayloadKeys): the console's codec endpoint opens payloads with it.
	Codec *codec.Codec
	// MetricsListenAddr is where the worker serves /metrics, /healthz and
	// /readyz; empty serves none.
	MetricsListenAddr string

	// fs and getenv are where the settings came from: a Temporal setting
	// given as a flag overrides the environment and the profile. groups
	// are those registered, the ones Check checks.
	fs     *flag.FlagSet
	getenv Getenv
	groups Group
}

// Getenv looks up an environment variable; tests pass their own.
type Getenv func(string) string

// Group is a set of settings a program registers together. A program
// registers the groups it uses, so its -h lists only the settings it reads;
// the names of flags and environment variables are the same in every
// program.
type Group uint

const (
	// Database is DATABASE_URL.
	Database Group = 1 << iota
	// Temporal is the connection to Temporal: address, namespace,
	// profile, task queue.
	Temporal
	// Mail is the SMTP server, the sender, and where hand-offs are mailed.
	Mail
	// Links is what the links in emails need: the link secret, the public
	// URL, tracking, and the provider's headers.
	Links
	// Receiver is the webhook receiver's: where it listens, the webhook
	// secrets, SendGrid's key, the default journey, the body limit.
	Receiver
	// Console is the console's accounts and single sign-on proxy.
	Console
	// CRM is where hand-offs are posted, and the secret that signs them.
	CRM
	// Logging is the log level and format.
	Logging
	// Metrics is where the worker serves /metrics, /healthz and /readyz.
	Metrics
	// Sending is the rate of journey emails: across the cluster, per
	// worker, per recipient domain.
	Sending
	// Worker is how many journeys a worker keeps in memory.
	Worker

	// All is every setting: the worker, the receiver and the demo.
	All = Database | Temporal | Mail | Links | Receiver | Console | CRM | Logging | Metrics | Sending | Worker
)

// Register declares every setting's flag on fs with defaults from the
// environment.
func (c *Config) Register(fs *flag.FlagSet, getenv Getenv) { c.RegisterGroups(fs, getenv, All) }

// RegisterGroups declares the flags of the groups given on fs, with
// defaults from the environment; the settings of the other groups keep
// their zero values.
func (c *Config) RegisterGroups(fs *flag.FlagSet, getenv Getenv, groups Group) {
	c.fs, c.getenv = fs, getenv
	c.groups |= groups
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ($"+env+")")
	}
	// checked is str for a setting with a closed set of values: a wrong
	// one given as a flag is refused when the flags are parsed (Check
	// reports one from the environment).
	checked := func(p *string, name, env, def, usage string, check func(string) error) {
		*p = def
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.Var(checkedString{p, check}, name, usage+" ($"+env+")")
	}
	if groups&Temporal != 0 {
		str(&c.TemporalAddress, "temporal-address", "TEMPORAL_ADDRESS", defaultTemporalAddress, "Temporal frontend host:port; TLS, API key and profile settings follow Temporal's: TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_CONFIG_FILE")
		str(&c.TemporalNamespace, "temporal-namespace", "TEMPORAL_NAMESPACE", defaultNamespace, "Temporal namespace")
		str(&c.TemporalProfile, "temporal-profile", "TEMPORAL_PROFILE", "", "profile of Temporal's client config file (TEMPORAL_CONFIG_FILE, else temporal/temporal.toml in the user's config directory) to connect with")
		str(&c.TaskQueue, "task-queue", "TEMPORAL_TASK_QUEUE", DefaultTaskQueue, "Temporal task queue of the nurture workers")
		str(&c.PayloadKeys, "payload-keys", "PAYLOAD_KEYS", secretFile(getenv, "PAYLOAD_KEYS_FILE"), "keys that encrypt what Temporal stores: id=secret (32+ bytes; openssl rand -hex 32), the first encrypts, id2=secret2 after it still decrypt (or $PAYLOAD_KEYS_FILE); empty stores lead data in plain text")
	}
	if groups&Database != 0 {
		str(&c.DatabaseURL, "database-url", "DATABASE_URL", store.DefaultURL, "PostgreSQL URL; the database is created when missing (commands that only read refuse one that does not exist)")
	}
	if groups&Mail != 0 {
		str(&c.SMTP.Host, "smtp-host", "SMTP_HOST", "127.0.0.1", "SMTP server host")
		port := 1025
		if v := getenv("SMTP_PORT"); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				port = n
			}
		}
		fs.IntVar(&c.SMTP.Port, "smtp-port", port, "SMTP server port ($SMTP_PORT)")
		str(&c.SMTP.Username, "smtp-username", "SMTP_USERNAME", "", "SMTP user, when the server wants authentication")
		str(&c.SMTP.Password, "smtp-password", "SMTP_PASSWORD", secretFile(getenv, "SMTP_PASSWORD_FILE"), "SMTP password (or $SMTP_PASSWORD_FILE)")
		str(&c.SMTP.TLS, "smtp-tls", "SMTP_TLS", "opportunistic", "SMTP TLS: none, opportunistic or mandatory")
		str(&c.SMTP.From, "mail-from", "MAIL_FROM", "Nurture Demo <marketing@nurture.test>", "sender of journey emails")
		str(&c.SalesEmail, "sales-email", "SALES_EMAIL", "sales@nurture.test", "where hand-offs are mailed")
	}
	if groups&Links != 0 {
		str(&c.PublicURL, "public-url", "PUBLIC_URL", "http://127.0.0.1:8088", "public base URL of the webhook receiver, base of the links in emails (unsubscribe, click, open pixel, verdict)")
		str(&c.LinkSecret, "link-secret", "LINK_SECRET", secretFile(getenv, "LINK_SECRET_FILE"), "secret (32+ bytes) that signs the links in emails, or id=secret,id2=secret2 to rotate (or $LINK_SECRET_FILE)")
		str(&c.EmailProvider, "email-provider", "EMAIL_PROVIDER", "", "the SMTP relay's provider, for its event webhook: empty or sendgrid")
		str(&c.Tracking, "tracking", "TRACKING", "on", "track clicks and opens: on or off")
	}
	if groups&Logging != 0 {
		checked(&c.LogLevel, "log-level", "LOG_LEVEL", "info", "`level`: debug, info, warn or error", func(s string) error { _, err := parseLevel(s); return err })
		checked(&c.LogFormat, "log-format", "LOG_FORMAT", LogText, "log lines as `text` (key=value) or json (one JSON object a line, for log collectors)", checkFormat)
	}
	if groups&Metrics != 0 {
		str(&c.MetricsListenAddr, "metrics-listen", "METRICS_LISTEN_ADDR", ":9464", "where the worker serves Prometheus /metrics, /healthz and /readyz (host:port); empty serves none")
	}
	if groups&Receiver != 0 {
		str(&c.ListenAddr, "listen", "LISTEN_ADDR", ":8088", "where the receiver listens (host:port)")
		str(&c.WebhookSecrets, "webhook-secrets", "WEBHOOK_SECRETS", secretFile(getenv, "WEBHOOK_SECRETS_FILE"), "secrets (32+ bytes, comma-separated) that sign machine requests to the receiver (or $WEBHOOK_SECRETS_FILE)")
		str(&c.SendGridKey, "sendgrid-key", "SENDGRID_WEBHOOK_PUBLIC_KEY", secretFile(getenv, "SENDGRID_WEBHOOK_PUBLIC_KEY_FILE"), "public key of SendGrid's signed event webhook (base64), empty to refuse its events")
		str(&c.DefaultJourney, "default-journey", "DEFAULT_JOURNEY", "b2b-nurture", "journey for leads a form or an event enrols when no entry rule names another")
		maxBody := int64(1 << 20)
		if v := getenv("MAX_BODY_BYTES"); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				maxBody = n
			}
		}
		fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", maxBody, "largest request body the receiver reads ($MAX_BODY_BYTES)")
	}
	if groups&CRM != 0 {
		str(&c.CRMURL, "crm-url", "CRM_WEBHOOK_URL", "", "the CRM endpoint every hand-off is posted to (JSON, signed); empty posts none unless a journey names one")
		str(&c.CRMSecret, "crm-secret", "CRM_WEBHOOK_SECRET", secretFile(getenv, "CRM_WEBHOOK_SECRET_FILE"), "secret (32+ bytes) that signs the posts to the CRM (or $CRM_WEBHOOK_SECRET_FILE)")
	}
	if groups&Sending != 0 {
		c.registerSending(fs, getenv)
	}
	if groups&Worker != 0 {
		registerCount(fs, getenv, &c.WorkflowCacheSize, "workflow-cache-size", "WORKFLOW_CACHE_SIZE", DefaultWorkflowCacheSize,
			"journeys a worker keeps in memory between their workflow tasks (Temporal's sticky cache); one not kept replays its history at its next task")
	}
	if groups&Console != 0 {
		str(&c.ConsoleAccountsFile, "console-accounts", "CONSOLE_ACCOUNTS_FILE", "", "file of console accounts (NAME ROLE BCRYPT-HASH a line; starter console-account makes one); empty serves no console")
		str(&c.ConsoleProxyHeader, "console-proxy-header", "CONSOLE_PROXY_HEADER", "", "header in which a single sign-on proxy in front of the receiver names the signed-in console user (only when nothing else reaches the receiver)")
		str(&c.ConsoleProxyTrusted, "console-proxy-trusted", "CONSOLE_PROXY_TRUSTED", "", "addresses (IPs or CIDR prefixes, comma-separated) the single sign-on proxy connects from; the proxy header is believed from them only")
		str(&c.ConsoleCodecOrigins, "console-codec-origins", "CONSOLE_CODEC_ORIGINS", "", "origins of Temporal UIs (comma-separated, https://temporal.example.com) that may ask the console's codec endpoint, /console/codec, to decode payloads for admins (needs PAYLOAD_KEYS)")
	}
}

// checkedString is a string flag that refuses a value check refuses.
type checkedString struct {
	p     *string
	check func(string) error
}

func (v checkedString) String() string {
	if v.p == nil { // the zero value flag.PrintDefaults makes
		return ""
	}
	return *v.p
}

func (v checkedString) Set(s string) error {
	if err := v.check(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

// Signer is the link signer the settings describe.
func (c *Config) Signer() (links.Signer, error) {
	keys, err := links.ParseKeys(c.LinkSecret)
	if err != nil {
		return links.Signer{}, fmt.Errorf("LINK_SECRET: %w", err)
	}
	return links.Signer{Keys: keys, BaseURL: c.PublicURL}, nil
}

// Where Temporal is when nothing says otherwise.
const (
	defaultTemporalAddress = "127.0.0.1:7233"
	defaultNamespace       = "default"
)

// TemporalOptions are the client options the settings describe, as every
// Temporal tool reads them (go.temporal.io/sdk/contrib/envconfig): a
// profile of Temporal's client config file, then the TEMPORAL_ environment
// variables (address, namespace, API key, TLS and mTLS, gRPC metadata),
// then the -temporal-address and -temporal-namespace flags when given.
func (c *Config) TemporalOptions(log *slog.Logger) (client.Options, error) {
	getenv := c.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{
		ConfigFileProfile: c.TemporalProfile,
		EnvLookup:         envLookup(getenv),
	})
	if err != nil {
		return opts, fmt.Errorf("temporal client settings: %w", err)
	}
	given := map[string]bool{}
	if c.fs != nil {
		c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	}
	if given["temporal-address"] || opts.HostPort == "" {
		opts.HostPort = cmp.Or(c.TemporalAddress, defaultTemporalAddress)
	}
	if given["temporal-namespace"] || opts.Namespace == "" {
		opts.Namespace = cmp.Or(c.TemporalNamespace, defaultNamespace)
	}
	// What the client reports, for this process's log lines.
	c.TemporalAddress, c.TemporalNamespace = opts.HostPort, opts.Namespace
	opts.Logger = sdklog.NewStructuredLogger(log)
	if c.TemporalMetrics != nil {
		opts.MetricsHandler = c.TemporalMetrics
	}
	return opts, nil
}

func parsePayloadKeys(s string) ([]keyring.Key, error) {
	return keyring.Setting{Env: "PAYLOAD_KEYS", What: "payload"}.Parse(s)
}

// PayloadCodec is the payload codec PAYLOAD_KEYS describes, keeping lead
// data keys in db; nil when PAYLOAD_KEYS is empty.
func (c *Config) PayloadCodec(ctx context.Context, db store.DB) (*codec.Codec, error) {
	if c.PayloadKeys == "" {
		// One process without the keys would write lead data in plain
		// text where the others seal it.
		if sealed, err := store.HasLeadKeys(ctx, db); err != nil {
			return nil, err
		} else if sealed {
			return nil, errors.New("PAYLOAD_KEYS is not set, but this database's leads are encrypted in Temporal (it holds their data keys): set PAYLOAD_KEYS (or PAYLOAD_KEYS_FILE) as the other processes have it")
		}
		return nil, nil
	}
	keys, err := parsePayloadKeys(c.PayloadKeys)
	if err != nil {
		return nil, fmt.Errorf("PAYLOAD_KEYS: %w", err)
	}
	return codec.New(db, keys)
}

// DialTemporal connects to the Temporal frontend the settings name,
// logging through log. With PAYLOAD_KEYS, every payload the client and
// its workers write is sealed (package codec; failure messages too), with
// the leads' data keys kept in db; without, lead data goes to Temporal in
// plain text (the worker and the receiver warn of it).
func (c *Config) DialTemporal(ctx context.Context, log *slog.Logger, db store.DB) (client.Client, error) {
	opts, err := c.TemporalOptions(log)
	if err != nil {
		return nil, err
	}
	if c.Codec, err = c.PayloadCodec(ctx, db); err != nil {
		return nil, err
	}
	if c.Codec != nil {
		c.Codec.Apply(&opts)
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w", opts.HostPort, opts.Namespace, err)
	}
	return tc, nil
}

// envLookup reads the environment through getenv, so tests can pass their
// own; the gRPC metadata variables (TEMPORAL_GRPC_META_*) are listed from
// the process's environment.
type envLookup Getenv

func (e envLookup) LookupEnv(key string) (string, bool) {
	v := e(key)
	return v, v != ""
}

func (e envLookup) Environ() []string { return os.Environ() }

func secretFile(getenv Getenv, env string) string {
	path := getenv(env)
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		// Reported by Check, which knows the variable is set.
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Check says what is wrong with the settings, all at once: those of the
// groups registered (all of them for a Config no flags filled).
func (c *Config) Check(getenv Getenv) error {
	groups := c.groups
	if groups == 0 {
		groups = All
	}
	var problems []string
	for _, f := range []struct {
		env   string
		group Group
	}{
		{"SMTP_PASSWORD_FILE", Mail}, {"LINK_SECRET_FILE", Links}, {"WEBHOOK_SECRETS_FILE", Receiver},
		{"SENDGRID_WEBHOOK_PUBLIC_KEY_FILE", Receiver}, {"CONSOLE_ACCOUNTS_FILE", Console}, {"CRM_WEBHOOK_SECRET_FILE", CRM},
		{"PAYLOAD_KEYS_FILE", Temporal},
	} {
		if groups&f.group == 0 {
			continue
		}
		if p := getenv(f.env); p != "" {
			if _, err := os.ReadFile(p); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", f.env, err))
			}
		}
	}
	if groups&Links != 0 {
		if c.LinkSecret == "" {
			problems = append(problems, "LINK_SECRET is empty: unsubscribe links must be signed (set it, or LINK_SECRET_FILE)")
		} else if _, err := links.ParseKeys(c.LinkSecret); err != nil {
			problems = append(problems, "LINK_SECRET: "+err.Error())
		}
		switch c.EmailProvider {
		case "", email.SendGrid:
		default:
			problems = append(problems, fmt.Sprintf("EMAIL_PROVIDER %q: leave it empty or use sendgrid", c.EmailProvider))
		}
		if c.Tracking != "on" && c.Tracking != "off" {
			problems = append(problems, fmt.Sprintf("TRACKING %q: use on or off", c.Tracking))
		}
	}
	if groups&Temporal != 0 && c.PayloadKeys != "" {
		if _, err := parsePayloadKeys(c.PayloadKeys); err != nil {
			problems = append(problems, "PAYLOAD_KEYS: "+err.Error())
		}
	}
	if groups&CRM != 0 {
		if c.CRMURL != "" {
			if u, err := url.Parse(c.CRMURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				problems = append(problems, fmt.Sprintf("CRM_WEBHOOK_URL %q is not an http(s) URL", c.CRMURL))
			}
		}
		if c.CRMSecret != "" && len(c.CRMSecret) < links.MinSecret {
			problems = append(problems, fmt.Sprintf("CRM_WEBHOOK_SECRET is %d bytes; at least %d", len(c.CRMSecret), links.MinSecret))
		}
		if c.CRMURL != "" && c.CRMSecret == "" {
			problems = append(problems, "CRM_WEBHOOK_URL is set but CRM_WEBHOOK_SECRET is not: posts to the CRM are signed (openssl rand -hex 32)")
		}
	}
	if groups&Sending != 0 {
		problems = append(problems, c.checkSending(getenv)...)
	}
	if groups&Worker != 0 && c.WorkflowCacheSize < 0 {
		problems = append(problems, fmt.Sprintf("WORKFLOW_CACHE_SIZE %q: journeys a worker keeps in memory, a whole number 0 or more", getenv("WORKFLOW_CACHE_SIZE")))
	}
	if groups&Logging != 0 {
		if _, err := parseLevel(c.LogLevel); err != nil {
			problems = append(problems, err.Error())
		}
		if err := checkFormat(c.LogFormat); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("LOG_LEVEL %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// The log formats (LOG_FORMAT).
const (
	LogText = "text"
	LogJSON = "json"
)

func checkFormat(s string) error {
	switch s {
	case "", LogText, LogJSON: // empty is text, for a Config no flags filled
		return nil
	}
	return fmt.Errorf("LOG_FORMAT %q: use text or json", s)
}

// Logger builds the process logger: text lines (key=value), or with
// LOG_FORMAT=json one JSON object a line.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ExitCode is a server program's exit status for what it returned, after
// saying on stderr what failed: 0 for nothing or -h, 1 otherwise (with
// the store's hint for a database it cannot reach).
func ExitCode(program string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if hint := store.Hint(err); hint != "" {
		fmt.Fprintln(stderr, program+":", hint)
	} else {
		fmt.Fprintln(stderr, program+":", err)
	}
	return 1
}
