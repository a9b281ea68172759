// Package receivercmd is the receiver program: it serves nurture's HTTP
// edge (package webhook): engagement events, forms, the email provider's
// event webhook, the CRM's verdicts, and the links in emails (clicks, the open pixel, one-click unsubscribe,
// verdict buttons). With CONSOLE_ACCOUNTS_FILE it also serves the console
// (package console) under /console/. It keeps no state that must be shared:
// run as many as the traffic needs, behind any load balancer, apart from
// the workers (console sessions are signed cookies any receiver reads; its
// sign-in counts, cached funnel figures and check findings are each
// process's own). It does not link the Temporal server.
//
// On SIGTERM it stops taking connections and lets requests in flight
// finish (up to 30 s) before it exits.
//
// The receiver command (./receiver) runs it, and so does the starter
// binary when it is called "receiver" (the image's one binary).
package receivercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/console"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/metrics"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/webhook"
)

// Main runs the program with the process's arguments, environment and
// signals, and returns its exit code: 0, or 1 after saying what failed
// (-h is 0).
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return config.ExitCode("receiver", Run(ctx, args, os.Getenv, os.Stderr, nil), os.Stderr)
}

// Run serves until ctx ends; listening, when not nil, gets the address
// once the receiver listens (tests ask for port 0).
func Run(ctx context.Context, args []string, getenv config.Getenv, stderr io.Writer, listening chan<- string) error {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: receiver [flags]\n\nServes nurture's webhooks and email links. Every flag defaults to the environment variable named after it.")
		fs.PrintDefaults()
	}
	var cfg config.Config
	cfg.Register(fs, getenv)
	check := fs.String("check", "", "check a URL answers 200 and exit (a container health check, where there is no curl)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *check != "" {
		return checkURL(ctx, *check)
	}
	if err := cfg.Check(getenv); err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	srv, cleanup, err := build(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer cleanup()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	log.Info("receiver listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	return webhook.Serve(ctx, ln, srv.Handler(), webhook.Drain, log)
}

// build connects to PostgreSQL and Temporal and makes the handlers.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger) (*webhook.Server, func(), error) {
	secrets, err := webhook.ParseSecrets(cfg.WebhookSecrets)
	if err != nil {
		return nil, nil, fmt.Errorf("WEBHOOK_SECRETS: %w", err)
	}
	signer, err := cfg.Signer()
	if err != nil {
		return nil, nil, err
	}
	sendgridKey, err := webhook.ParseSendGridKey(cfg.SendGridKey)
	if err != nil {
		return nil, nil, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	var accounts console.Accounts
	switch {
	case cfg.ConsoleAccountsFile != "":
		if accounts, err = console.LoadAccounts(cfg.ConsoleAccountsFile); err != nil {
			return nil, nil, err
		}
	case cfg.ConsoleProxyHeader != "":
		return nil, nil, errors.New("CONSOLE_PROXY_HEADER is set but CONSOLE_ACCOUNTS_FILE is not: the accounts file gives each user their role")
	}
	trusted, err := console.ParseTrusted(cfg.ConsoleProxyTrusted)
	if err != nil {
		return nil, nil, fmt.Errorf("CONSOLE_PROXY_TRUSTED: %w", err)
	}
	if cfg.ConsoleProxyHeader != "" && len(trusted) == 0 {
		return nil, nil, errors.New("CONSOLE_PROXY_HEADER is set but CONSOLE_PROXY_TRUSTED is not: name the proxy's addresses, since anyone else could send the header")
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	m, err := metrics.New()
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	cfg.TemporalMetrics = m.TemporalHandler(log)
	if cfg.PayloadKeys == "" {
		log.Warn("PAYLOAD_KEYS is not set: lead data goes to Temporal's histories in plain text")
	}
	c, err := cfg.DialTemporal(ctx, log, pool)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	srv := &webhook.Server{
		DB: pool, Temporal: c, Links: signer, Secrets: secrets, SendGridKey: sendgridKey, MaxBody: cfg.MaxBodyBytes, Log: log,
		Intake: &ingest.Intake{DB: pool, Temporal: c, TaskQueue: cfg.TaskQueue, DefaultJourney: cfg.DefaultJourney, Metrics: m,
			Logf: func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) }},
		Metrics:   m.Handler(),
		OnRequest: func(_, route string, status int, took time.Duration) { m.Observe(route, status, took) },
	}
	cleanup := func() { c.Close(); pool.Close() }
	if accounts != nil {
		con, err := console.New(console.Options{DB: pool, Temporal: c, Intake: srv.Intake, Accounts: accounts, LinkKeys: signer.Keys,
			ProxyHeader: cfg.ConsoleProxyHeader, ProxyTrusted: trusted, Secure: strings.HasPrefix(cfg.PublicURL, "https://"), Log: log,
			Codec: cfg.Codec, CodecOrigins: splitList(cfg.ConsoleCodecOrigins)})
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		srv.Console = con.Handler()
		con.Warm()
		// Background work stops before the pool closes.
		cleanup = func() { con.Close(); c.Close(); pool.Close() }
		log.Info("console served", "url", strings.TrimSuffix(cfg.PublicURL, "/")+console.Prefix+"/", "accounts", len(accounts))
		if len(accounts) == 0 {
			log.Warn("the console has no account: nobody can sign in; add accounts with starter console-account", "file", cfg.ConsoleAccountsFile)
		}
	}
	return srv, cleanup, nil
}

// checkURL is the health check: GET, and only 200 is healthy.
func checkURL(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("check %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("check %s: %s", u, resp.Status)
	}
	return nil
}

// splitList is a comma-separated setting's values, blanks dropped.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
