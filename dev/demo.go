package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/console"
	"github.com/nurture-dev/nurture/devstack"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

const day = 24 * time.Hour

// demo is one run of the demo.
type demo struct {
	stdout  io.Writer
	scale   float64
	started time.Time
	leads   []demoLead
	byID    map[string]*demoLead
	intake  *ingest.Intake
	c       client.Client
	db      store.DB
	sink    *smtpsink.Sink
	// The receiver, as websites, email clients and sales reach it.
	base       string
	secret     []byte
	http       *http.Client
	signer     links.Signer
	salesEmail string

	mu      sync.Mutex
	emails  int
	notices int
}

// about is what -h says the demo does.
const about = `Runs the whole system in this process: an embedded Temporal server (SQLite file,
so journeys survive a restart), the worker, the webhook receiver and the
console, and an SMTP sink that keeps every message; then enrols sample leads
in the shipped journey and feeds them engagement over HTTP, printing mail,
scores and hand-offs as they happen. Every flag defaults to the environment
variable named after it, where it has one.`

// run runs the demo with the flags in args, reading settings through
// getenv; it prints to stdout, and usage and flag mistakes to stderr.
func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./dev [flags]\n\n%s\n\nflags:\n", about)
		fs.PrintDefaults()
	}
	cfg := &config.Config{}
	cfg.Register(fs, getenv)
	dataDir := fs.String("data", ".nurture", "folder for the Temporal database, received mail and the log")
	scale := fs.Float64("time-scale", 86400, "journey seconds per real second (86400: a day lasts a second)")
	keep := fs.Bool("keep-running", false, "keep the system running after the sample leads are done, until interrupted")
	resume := fs.Bool("resume", false, "enrol nobody: resume the journeys already in the data folder and keep running")
	temporalPort := fs.Int("temporal-port", 7233, "port of the embedded Temporal server")
	uiPort := fs.Int("ui-port", 8233, "port of Temporal's Web UI (0 for none)")
	smtpAddr := fs.String("smtp-listen", "127.0.0.1:2525", "address of the SMTP sink")
	receiverAddr := fs.String("receiver-listen", "127.0.0.1:8088", "address of the webhook receiver (the links in the demo's emails point at it)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting for the sample leads after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("the demo takes no arguments, got %q", fs.Args())
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	if cfg.LinkSecret == "" {
		// Kept in the data folder: after -resume, the links in the mail
		// already sent still work.
		secret, err := keptSecret(filepath.Join(*dataDir, "link-secret"))
		if err != nil {
			return err
		}
		cfg.LinkSecret = secret
	}
	if cfg.PayloadKeys == "" {
		// Lead data in the embedded server's histories is sealed as in
		// production; the key is kept for -resume's sake.
		secret, err := keptSecret(filepath.Join(*dataDir, "payload-key"))
		if err != nil {
			return err
		}
		cfg.PayloadKeys = secret
	}
	if cfg.WebhookSecrets == "" {
		cfg.WebhookSecrets = randomSecret()
	}
	if err := cfg.Check(getenv); err != nil {
		return err
	}
	secrets, err := webhook.ParseSecrets(cfg.WebhookSecrets)
	if err != nil {
		return fmt.Errorf("WEBHOOK_SECRETS: %w", err)
	}
	sendgridKey, err := webhook.ParseSendGridKey(cfg.SendGridKey)
	if err != nil {
		return fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	// The receiver runs in this process; the links in the demo's emails
	// point at it, wherever PUBLIC_URL would otherwise say.
	receiverLn, err := net.Listen("tcp", *receiverAddr)
	if err != nil {
		return fmt.Errorf("receiver: listen on %s (another demo running?): %w", *receiverAddr, err)
	}
	defer receiverLn.Close()
	cfg.PublicURL = "http://" + receiverLn.Addr().String()
	out := &printer{w: stdout}

	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	logFile, err := os.OpenFile(filepath.Join(*dataDir, "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open demo log: %w", err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

	d := &demo{stdout: stdout, scale: *scale, byID: map[string]*demoLead{}, db: db, base: cfg.PublicURL, secret: secrets[0],
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	mailDir := filepath.Join(*dataDir, "mail")
	sink, err := smtpsink.Start(smtpsink.Options{Addr: *smtpAddr, Dir: mailDir, Logger: log, OnMessage: func(m smtpsink.Message) { d.mailed(out, m) }})
	if err != nil {
		return err
	}
	defer sink.Close()
	d.sink = sink

	dbFile := filepath.Join(*dataDir, "temporal.db")
	temporal, err := devstack.StartTemporal(devstack.TemporalOptions{DatabaseFile: dbFile, Port: *temporalPort, UIPort: *uiPort, Namespace: cfg.TemporalNamespace, Logger: log})
	if err != nil {
		return err
	}
	defer temporal.Stop()

	sealer, err := cfg.PayloadCodec(ctx, db)
	if err != nil {
		return err
	}
	copts := client.Options{HostPort: temporal.Address, Namespace: cfg.TemporalNamespace, Logger: sdklog.NewStructuredLogger(log)}
	sealer.Apply(&copts)
	c, err := client.DialContext(ctx, copts)
	if err != nil {
		return fmt.Errorf("connect to embedded temporal: %w", err)
	}
	defer c.Close()
	d.c = c

	smtp := cfg.SMTP
	smtp.Host, smtp.Port, smtp.TLS, smtp.Username = sink.Host(), sink.Port(), "none", ""
	mail, err := email.New(smtp)
	if err != nil {
		return err
	}
	defer mail.Close()
	signer, err := cfg.Signer()
	if err != nil {
		return err
	}
	d.signer, d.salesEmail = signer, cfg.SalesEmail
	w := journeyworker.New(c, cfg.TaskQueue, journeyworker.Activities(cfg, db, mail, signer, log), worker.Options{WorkerStopTimeout: 10 * time.Second}, journeyworker.SendRates(cfg))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()

	j, pub, err := store.PublishShipped(ctx, db, cfg.DefaultJourney)
	if err != nil {
		return err
	}
	// ErasedBefore: the demo erases its sample leads before enrolling them,
	// so their journeys from earlier demos in this data folder do not count
	// against the re-entry rule.
	d.intake = &ingest.Intake{DB: db, Temporal: c, TaskQueue: cfg.TaskQueue, DefaultJourney: j.ID, TimeScale: d.scale, ErasedBefore: true,
		Logf: func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) }}
	receiver := &webhook.Server{DB: db, Temporal: c, Intake: d.intake, Links: signer, Secrets: secrets, SendGridKey: sendgridKey, MaxBody: cfg.MaxBodyBytes, Log: log}
	accounts, login, err := demoAccounts(cfg, *dataDir)
	if err != nil {
		return err
	}
	// The funnel is computed again every few seconds: the demo's leads move
	// fast.
	trusted, err := console.ParseTrusted(cfg.ConsoleProxyTrusted)
	if err != nil {
		return fmt.Errorf("CONSOLE_PROXY_TRUSTED: %w", err)
	}
	con, err := console.New(console.Options{DB: db, Temporal: c, Intake: d.intake, Accounts: accounts, LinkKeys: signer.Keys,
		ProxyHeader: cfg.ConsoleProxyHeader, ProxyTrusted: trusted, ReportTTL: 3 * time.Second, Log: log})
	if err != nil {
		return err
	}
	defer con.Close()
	receiver.Console = con.Handler()
	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- webhook.Serve(serveCtx, receiverLn, receiver.Handler(), 5*time.Second, log) }()
	defer func() { stopServing(); <-served }()

	fmt.Fprintf(stdout, "nurture demo: one journey day lasts %s (time scale %g)\n\n", time.Duration(float64(day)/d.scale).Round(time.Millisecond), d.scale)
	fmt.Fprintf(stdout, "  PostgreSQL   %s\n", redact(cfg.DatabaseURL))
	fmt.Fprintf(stdout, "  Temporal     %s (SQLite %s)\n", temporal.Address, dbFile)
	if temporal.UIURL != "" {
		fmt.Fprintf(stdout, "  Web UI       %s/namespaces/%s/workflows\n", temporal.UIURL, cfg.TemporalNamespace)
	}
	fmt.Fprintf(stdout, "  SMTP sink    %s, every message saved in %s/\n", sink.Addr, mailDir)
	fmt.Fprintf(stdout, "  Receiver     %s (webhooks; the links in the emails)\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "  Console      %s%s/funnel?refresh=5 (%s)\n", cfg.PublicURL, console.Prefix, login)
	fmt.Fprintf(stdout, "  Journey      %s version %d (hand-off at score %d, MQL at %d)\n", j.ID, pub.Version, j.Handoff.MinScore, j.Scoring.MQL)
	fmt.Fprintf(stdout, "  Log          %s\n\n", logFile.Name())

	if *resume {
		d.started = time.Now()
		fmt.Fprintln(stdout, "resuming the journeys in the data folder; interrupt (Ctrl-C) to stop")
		<-ctx.Done()
		return nil
	}

	if err := d.run(ctx, out, *timeout); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stdout, "\ninterrupted: the journeys keep their place in %s; run the demo with -resume to let them carry on\n", *dataDir)
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "\nwhere to look:\n")
	if temporal.UIURL != "" {
		fmt.Fprintf(stdout, "  each lead's workflow history   %s/namespaces/%s/workflows\n", temporal.UIURL, cfg.TemporalNamespace)
	}
	fmt.Fprintf(stdout, "  the mail that went out         %s/ (open any .eml file)\n", mailDir)
	fmt.Fprintf(stdout, "  the system of record           psql %q -c 'select lead_id, total, reason from score_snapshots order by id'\n", redact(cfg.DatabaseURL))
	fmt.Fprintf(stdout, "  your own journey               README.md, \"Writing a journey\"\n")
	if *keep {
		fmt.Fprintf(stdout, "  the console                    %s%s/ (%s)\n", cfg.PublicURL, console.Prefix, login)
		fmt.Fprintf(stdout, "\nstill running (try: go run ./starter status ada@analytical.test); interrupt (Ctrl-C) to stop\n")
		<-ctx.Done()
	}
	return nil
}

func (d *demo) run(ctx context.Context, out *printer, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d.leads = sampleLeads()
	runID := randomSecret()[:8]
	since, err := store.LastSnapshotID(ctx, d.db)
	if err != nil {
		return err
	}
	if err := d.checkNotRunning(ctx); err != nil {
		return err
	}
	// The demo owns its sample addresses: each run erases them first, so
	// re-entry rules and old suppressions do not get in its way.
	for _, l := range d.leads {
		if err := store.ForgetLead(ctx, d.db, lead.IDForEmail(l.profile.Email)); err != nil {
			return err
		}
	}
	ids := make([]string, len(d.leads))
	d.started = time.Now()
	for i := range d.leads {
		l := &d.leads[i]
		res, err := d.intake.Enroll(ctx, l.profile, "", "")
		if err != nil {
			return err
		}
		p := res.Profile
		l.profile = p
		ids[i] = p.ID
		d.byID[p.ID] = l
		who := p.Title + ", " + p.Company
		if persona := p.Fields["persona"]; persona != "" {
			who += ", " + persona + " persona"
		}
		out.line(d.day(), "ENROLL", p.Email, who+" (from "+p.Source+")")
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(d.leads)+1)
	for i := range d.leads {
		l := &d.leads[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.play(ctx, out, runID, l); err != nil {
				errs <- err
			}
		}()
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		d.feed(feedCtx, out, since, ids)
	}()

	results := make([]workflows.Result, len(d.leads))
	for i := range d.leads {
		if err := d.c.GetWorkflow(ctx, workflows.WorkflowID(ids[i]), "").Get(ctx, &results[i]); err != nil {
			stopFeed()
			return fmt.Errorf("waiting for %s's journey to finish: %w", d.leads[i].profile.Email, err)
		}
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // let the feed catch the last rows
	stopFeed()
	<-feedDone
	close(errs)
	for err := range errs {
		return err
	}
	return d.summary(ctx, results)
}

// checkNotRunning refuses to enrol sample leads whose journeys from an
// earlier, interrupted demo are still running in the data folder: mixing two
// scripts would make the output meaningless.
func (d *demo) checkNotRunning(ctx context.Context) error {
	for _, l := range d.leads {
		desc, err := d.c.DescribeWorkflowExecution(ctx, workflows.WorkflowID(lead.IDForEmail(l.profile.Email)), "")
		if err != nil {
			continue // never started: fine
		}
		if desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("%s is still in a journey from an earlier demo in this data folder; run with -resume to let those journeys finish, or delete the folder to start over", l.profile.Email)
		}
	}
	return nil
}

func (d *demo) day() float64 { return time.Since(d.started).Seconds() * d.scale / day.Seconds() }

func (d *demo) at(journeyDay float64) time.Time {
	return d.started.Add(time.Duration(journeyDay * float64(day) / d.scale))
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// printer serialises output lines from the demo's goroutines.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) line(day float64, what, who, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "day %5.1f  %-9s %-24s %s\n", day, what, who, text)
}

// keptSecret reads the secret in a file, or makes one and keeps it there.
func keptSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= links.MinSecret {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return "", fmt.Errorf("read the demo's kept secret: %w", err)
	}
	secret := randomSecret()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the demo's secret: %w", err)
	}
	return secret, nil
}

func randomSecret() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// redact hides a password in a database URL.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if at := strings.Index(url[i+3:], "@"); at >= 0 {
			cred := url[i+3 : i+3+at]
			if u, _, ok := strings.Cut(cred, ":"); ok {
				return url[:i+3] + u + ":***" + url[i+3+at:]
			}
		}
	}
	return url
}
