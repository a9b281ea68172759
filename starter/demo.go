package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/timeline"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

const day = 24 * time.Hour

// demoLead is a sample lead and what it does, in journey days after
// enrolment (its source picks its start stage, by the journey's entry
// rules); verdict is what "sales" answers when it is handed off.
type demoLead struct {
	profile lead.Profile
	script  []scripted
	verdict string
	reason  string
	// task is what "sales" reports for a task the journey gives.
	task string
}

type scripted struct {
	day float64
	typ lead.EventType
}

func sampleLeads() []demoLead {
	return []demoLead{
		{
			profile: lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO", TimeZone: "Europe/London", Source: "whitepaper form",
				Fields: map[string]string{"persona": "executive", "industry": "manufacturing", "employees": "1200", "bant_authority": "yes"}},
			script: []scripted{{0.4, lead.EmailOpen}, {1.0, lead.EmailClick}, {1.5, lead.WhitepaperDownload}, {2.0, lead.WebinarSignup},
				{3.5, lead.CaseStudyView}, {4.5, lead.PricingPageView}, {5.0, lead.DemoRequest}},
			verdict: workflows.VerdictAccepted, reason: "budget approved, meeting booked",
		},
		{
			profile: lead.Profile{Email: "grace@cobol.test", FirstName: "Grace", LastName: "Hopper", Company: "Cobol Systems", Title: "VP Engineering", TimeZone: "America/New_York", Source: "webinar list",
				Fields: map[string]string{"persona": "technical"}},
			script: []scripted{{0.5, lead.EmailOpen}},
		},
		{
			profile: lead.Profile{Email: "linus@kernel.test", FirstName: "Linus", Company: "Kernel Co", Title: "Developer", TimeZone: "Europe/Helsinki", Source: "blog signup"},
			script:  []scripted{{1.0, lead.EmailOpen}, {2.0, lead.Unsubscribe}},
		},
		{
			// Her source puts her at evaluation, by the journey's entry rule.
			profile: lead.Profile{Email: "margaret@apollo.test", FirstName: "Margaret", LastName: "Hamilton", Company: "Apollo Guidance", Title: "Director of Software", TimeZone: "America/Chicago", Source: "demo request form",
				Fields: map[string]string{"persona": "technical", "employees": "800"}},
			script: []scripted{{0.5, lead.EmailOpen}, {0.7, lead.EmailClick}, {1.0, lead.PricingPageView}, {1.5, lead.ContactForm},
				{2.0, lead.DemoRequest}},
			verdict: workflows.VerdictRecycle, reason: "no budget until next quarter",
			task: "not_now",
		},
		{
			profile: lead.Profile{Email: "alan@bletchley.test", FirstName: "Alan", LastName: "Turing", Company: "Bletchley Labs", Title: "Head of Research", TimeZone: "Europe/London", Source: "trade show"},
			script:  []scripted{{0.2, lead.HardBounce}},
		},
	}
}

// demo is one run of the demo.
type demo struct {
	env     *environment
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

func runDemo(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "demo", "", "Runs the whole system in this process: an embedded Temporal server (SQLite file,\nso journeys survive a restart), the worker, and an SMTP sink that keeps every\nmessage; then enrols sample leads in the shipped journey and feeds them\nengagement, printing mail, scores and hand-offs as they happen.")
	dataDir := fs.String("data", ".nurture", "folder for the Temporal database, received mail and the log")
	scale := fs.Float64("time-scale", 86400, "journey seconds per real second (86400: a day lasts a second)")
	keep := fs.Bool("keep-running", false, "keep the system running after the sample leads are done, until interrupted")
	resume := fs.Bool("resume", false, "enrol nobody: resume the journeys already in the data folder and keep running")
	temporalPort := fs.Int("temporal-port", 7233, "port of the embedded Temporal server")
	uiPort := fs.Int("ui-port", 8233, "port of Temporal's Web UI (0 for none)")
	smtpAddr := fs.String("smtp-listen", "127.0.0.1:2525", "address of the SMTP sink")
	receiverAddr := fs.String("receiver-listen", "127.0.0.1:8088", "address of the webhook receiver (the links in the demo's emails point at it)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting for the sample leads after this long")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		fs.Usage()
		return fmt.Errorf("demo takes no arguments, got %q", args)
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	if cfg.LinkSecret == "" {
		// Kept in the data folder: after -resume, the links in the mail
		// already sent still work.
		if cfg.LinkSecret, err = keptSecret(filepath.Join(*dataDir, "link-secret")); err != nil {
			return err
		}
	}
	if cfg.WebhookSecrets == "" {
		cfg.WebhookSecrets = randomSecret()
	}
	if err := cfg.Check(env.getenv); err != nil {
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
	out := &printer{w: env.stdout}

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

	d := &demo{env: env, scale: *scale, byID: map[string]*demoLead{}, db: db, base: cfg.PublicURL, secret: secrets[0],
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

	c, err := client.DialContext(ctx, client.Options{HostPort: temporal.Address, Namespace: cfg.TemporalNamespace, Logger: sdklog.NewStructuredLogger(log)})
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
	w := journeyworker.New(c, cfg.TaskQueue, journeyworker.Activities(cfg, db, mail, signer, log), worker.Options{WorkerStopTimeout: 10 * time.Second})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()

	j, pub, err := publishShipped(ctx, db)
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

	fmt.Fprintf(env.stdout, "nurture demo: one journey day lasts %s (time scale %g)\n\n", time.Duration(float64(day)/d.scale).Round(time.Millisecond), d.scale)
	fmt.Fprintf(env.stdout, "  PostgreSQL   %s\n", redact(cfg.DatabaseURL))
	fmt.Fprintf(env.stdout, "  Temporal     %s (SQLite %s)\n", temporal.Address, dbFile)
	if temporal.UIURL != "" {
		fmt.Fprintf(env.stdout, "  Web UI       %s/namespaces/%s/workflows\n", temporal.UIURL, cfg.TemporalNamespace)
	}
	fmt.Fprintf(env.stdout, "  SMTP sink    %s, every message saved in %s/\n", sink.Addr, mailDir)
	fmt.Fprintf(env.stdout, "  Receiver     %s (webhooks; the links in the emails)\n", cfg.PublicURL)
	fmt.Fprintf(env.stdout, "  Console      %s%s/funnel?refresh=5 (%s)\n", cfg.PublicURL, console.Prefix, login)
	fmt.Fprintf(env.stdout, "  Journey      %s version %d (hand-off at score %d, MQL at %d)\n", j.ID, pub.Version, j.Handoff.MinScore, j.Scoring.MQL)
	fmt.Fprintf(env.stdout, "  Log          %s\n\n", logFile.Name())

	if *resume {
		d.started = time.Now()
		fmt.Fprintln(env.stdout, "resuming the journeys in the data folder; interrupt (Ctrl-C) to stop")
		<-ctx.Done()
		return nil
	}

	if err := d.run(ctx, out, *timeout); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.stdout, "\ninterrupted: the journeys keep their place in %s; run the demo with -resume to let them carry on\n", *dataDir)
			return nil
		}
		return err
	}
	fmt.Fprintf(env.stdout, "\nwhere to look:\n")
	if temporal.UIURL != "" {
		fmt.Fprintf(env.stdout, "  each lead's workflow history   %s/namespaces/%s/workflows\n", temporal.UIURL, cfg.TemporalNamespace)
	}
	fmt.Fprintf(env.stdout, "  the mail that went out         %s/ (open any .eml file)\n", mailDir)
	fmt.Fprintf(env.stdout, "  the system of record           psql %q -c 'select lead_id, total, reason from score_snapshots order by id'\n", redact(cfg.DatabaseURL))
	fmt.Fprintf(env.stdout, "  your own journey               README.md, \"Writing a journey\"\n")
	if *keep {
		fmt.Fprintf(env.stdout, "  the console                    %s%s/ (%s)\n", cfg.PublicURL, console.Prefix, login)
		fmt.Fprintf(env.stdout, "\nstill running (try: go run ./starter status ada@analytical.test); interrupt (Ctrl-C) to stop\n")
		<-ctx.Done()
	}
	return nil
}

// Demo console accounts, one a role people use; they share a password
// kept in the data folder.
const (
	demoMarketer = "marketer"
	demoSales    = "sales"
)

// demoAccounts are the console's accounts in the demo: those of
// CONSOLE_ACCOUNTS_FILE when it is set, else a marketer and a sales rep
// with a password made once and kept in the data folder. login says how to
// sign in.
func demoAccounts(cfg *config.Config, dataDir string) (console.Accounts, string, error) {
	if cfg.ConsoleAccountsFile != "" {
		as, err := console.LoadAccounts(cfg.ConsoleAccountsFile)
		return as, "accounts of " + cfg.ConsoleAccountsFile, err
	}
	password, err := keptSecret(filepath.Join(dataDir, "console-password"))
	if err != nil {
		return nil, "", err
	}
	// bcrypt reads 72 bytes at most; a kept secret is longer.
	password = password[:20]
	var lines []string
	for _, a := range []struct {
		name string
		role console.Role
	}{{demoMarketer, console.RoleMarketer}, {demoSales, console.RoleSales}} {
		line, err := console.AccountLine(a.name, a.role, password)
		if err != nil {
			return nil, "", err
		}
		lines = append(lines, line)
	}
	as, err := console.ParseAccounts(strings.NewReader(strings.Join(lines, "\n")))
	return as, fmt.Sprintf("sign in as %s or %s, password %s", demoMarketer, demoSales, password), err
}

// publishShipped publishes every shipped journey (a no-op for unchanged
// ones) and returns the main one.
func publishShipped(ctx context.Context, db store.DB) (*journeys.Journey, store.Published, error) {
	names, err := fs.Glob(journeys.Shipped(), "*.yaml")
	if err != nil {
		return nil, store.Published{}, err
	}
	var main *journeys.Journey
	var mainPub store.Published
	for _, name := range names {
		j, src, err := journeys.LoadShipped(name)
		if err != nil {
			return nil, store.Published{}, err
		}
		pub, err := store.PublishJourney(ctx, db, j, src)
		if err != nil {
			return nil, store.Published{}, err
		}
		if j.ID == "b2b-nurture" {
			main, mainPub = j, pub
		}
	}
	return main, mainPub, nil
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

// play feeds one lead its scripted engagement at the scripted journey days,
// and answers its hand-offs as sales would.
func (d *demo) play(ctx context.Context, out *printer, runID string, l *demoLead) error {
	for n, s := range l.script {
		if err := sleepUntil(ctx, d.at(s.day)); err != nil {
			return nil
		}
		if err := d.engage(ctx, out, fmt.Sprintf("demo-%s-%s-%d", runID, l.profile.ID[:8], n), l, s.typ); err != nil {
			return fmt.Errorf("%s for %s: %w", s.typ, l.profile.Email, err)
		}
	}
	if l.verdict == "" {
		return nil
	}
	// Sales answers a journey day after the hand-off.
	var handoff int64
	for {
		st, err := workflows.QueryLead(ctx, d.c, l.profile.ID)
		if err == nil && st.Lifecycle == workflows.LifecycleHandedOff {
			handoff = st.HandoffID
			break
		}
		if err == nil && st.Lifecycle == workflows.LifecycleExited {
			return nil
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return nil
		}
	}
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(float64(day)/d.scale))); err != nil {
		return nil
	}
	if err := d.verdictByEmail(ctx, out, l, handoff); err != nil {
		return fmt.Errorf("verdict for %s: %w", l.profile.Email, err)
	}
	out.line(d.day(), "SALES", l.profile.Email, fmt.Sprintf("verdict %s: %s", l.verdict, l.reason))
	if l.task == "" {
		return nil
	}
	// A rep does the task the journey gives (a check-in call) a day later.
	var task store.Task
	for {
		t, err := store.OpenTask(ctx, d.db, l.profile.ID)
		if err == nil {
			task = t
			break
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return nil
		}
	}
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(float64(day)/d.scale))); err != nil {
		return nil
	}
	if _, err := workflows.SendTaskOutcome(ctx, d.c, l.profile.ID, workflows.TaskOutcome{TaskID: task.ID, Outcome: l.task}); err != nil {
		return fmt.Errorf("task outcome for %s: %w", l.profile.Email, err)
	}
	out.line(d.day(), "TASK", l.profile.Email, fmt.Sprintf("%q done by sales: %s", task.Title, l.task))
	return nil
}

// feed prints score snapshots as the workflows record them.
func (d *demo) feed(ctx context.Context, out *printer, since int64, ids []string) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		snaps, last, err := store.SnapshotsSince(ctx, d.db, since, ids)
		if err == nil {
			since = last
			for _, s := range snaps {
				d.printSnapshot(out, s)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (d *demo) printSnapshot(out *printer, s store.Snapshot) {
	l := d.byID[s.LeadID]
	who := s.LeadID
	if l != nil {
		who = l.profile.Email
	}
	if what, text := timeline.Progress(s); what != "" {
		out.line(d.day(), what, who, text)
	}
}

func (d *demo) mailed(out *printer, m smtpsink.Message) {
	content := m.Header.Get("X-Nurture-Content")
	d.mu.Lock()
	switch {
	case m.Header.Get("X-Nurture-Handoff") != "":
		d.notices++
		content = "hand-off notice"
	case m.Header.Get("X-Nurture-Task") != "":
		d.notices++
		content = "task for sales"
	default:
		d.emails++
	}
	d.mu.Unlock()
	out.line(d.day(), "MAIL", strings.Join(m.To, ","), fmt.Sprintf("%q [%s]", m.Subject, content))
}

func (d *demo) summary(ctx context.Context, results []workflows.Result) error {
	elapsed := time.Since(d.started)
	fmt.Fprintf(d.env.stdout, "\nsummary after %s (%.0f journey days):\n", elapsed.Round(time.Second), d.day())
	fmt.Fprintf(d.env.stdout, "  %-24s %-13s %6s %7s  %s\n", "lead", "lifecycle", "score", "emails", "outcome")
	handoffs := 0
	for i, l := range d.leads {
		sends, err := store.CountSends(ctx, d.db, l.profile.ID)
		if err != nil {
			return err
		}
		hs, err := store.ListHandoffs(ctx, d.db, l.profile.ID)
		if err != nil {
			return err
		}
		handoffs += len(hs)
		var outcome []string
		for _, h := range hs {
			if h.Verdict != "" {
				outcome = append(outcome, fmt.Sprintf("handed off at %d, sales said %s", h.Total, h.Verdict))
			}
		}
		if r := results[i].ExitReason; r != "" {
			outcome = append(outcome, "exit: "+r)
		}
		fmt.Fprintf(d.env.stdout, "  %-24s %-13s %6d %7d  %s\n", l.profile.Email, results[i].Lifecycle, results[i].Score, sends, strings.Join(outcome, "; "))
	}
	d.mu.Lock()
	fmt.Fprintf(d.env.stdout, "  %d journey emails and %d notices to sales (hand-offs, tasks) received by the SMTP sink; %d hand-offs\n", d.emails, d.notices, handoffs)
	d.mu.Unlock()
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
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
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
