package faults_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/devstack"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/internal/tcpproxy"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/workflows"
)

// The test binary doubles as a Temporal server process, so a test can kill
// the server with SIGKILL: TestMain serves when these are set.
const (
	envServeTemporal = "FAULTS_SERVE_TEMPORAL_DB"
	envServePort     = "FAULTS_SERVE_TEMPORAL_PORT"
)

// workerBinary is the production worker, built once for the tests that
// kill it.
var workerBinary struct {
	once sync.Once
	path string
	err  error
	dir  string
}

func TestMain(m *testing.M) {
	if db := os.Getenv(envServeTemporal); db != "" {
		port, _ := strconv.Atoi(os.Getenv(envServePort))
		t, err := devstack.StartTemporal(devstack.TemporalOptions{DatabaseFile: db, Port: port})
		if err != nil {
			fmt.Fprintln(os.Stderr, "faults: temporal server:", err)
			os.Exit(1)
		}
		fmt.Println("temporal listening on", t.Address)
		select {} // until killed
	}
	code := m.Run()
	if workerBinary.dir != "" {
		_ = os.RemoveAll(workerBinary.dir)
	}
	os.Exit(code)
}

func buildWorker(t *testing.T) string {
	t.Helper()
	workerBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "nurture-faults-")
		if err != nil {
			workerBinary.err = err
			return
		}
		workerBinary.dir = dir
		workerBinary.path = filepath.Join(dir, "worker")
		out, err := exec.Command("go", "build", "-o", workerBinary.path, "github.com/nurture-dev/nurture/worker").CombinedOutput()
		if err != nil {
			workerBinary.err = fmt.Errorf("go build ./worker: %w\n%s", err, out)
		}
	})
	require.NoError(t, workerBinary.err)
	return workerBinary.path
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// faultJourney: five emails an hour apart, then a hand-off with its notice
// to sales: six messages per lead, all known in advance.
const faultJourney = `id: fault-suite
name: Fault suite
scoring:
  mql: 20
  events:
    email_click: {points: 5, axis: interest}
    case_study_view: {points: 5, axis: interest}
    demo_request: {points: 50, axis: intent}
handoff:
  min_score: 1000
content:
  - {id: c1, stage: one, subject: "One for {{.FirstName}}", text: "Hi {{.FirstName}}. Unsubscribe: {{.UnsubscribeURL}}"}
  - {id: c2, stage: one, subject: "Two for {{.FirstName}}", text: "Hi {{.FirstName}}. Unsubscribe: {{.UnsubscribeURL}}"}
  - {id: c3, stage: one, subject: "Three for {{.FirstName}}", text: "Hi {{.FirstName}}. Unsubscribe: {{.UnsubscribeURL}}"}
  - {id: c4, stage: one, subject: "Four for {{.FirstName}}", text: "Hi {{.FirstName}}. Unsubscribe: {{.UnsubscribeURL}}"}
  - {id: c5, stage: one, subject: "Five for {{.FirstName}}", text: "Hi {{.FirstName}}. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - {id: s1, send: c1}
      - {id: w1, wait: 1h}
      - {id: s2, send: c2}
      - {id: w2, wait: 1h}
      - {id: s3, send: c3}
      - {id: w3, wait: 1h}
      - {id: s4, send: c4}
      - {id: w4, wait: 1h}
      - {id: s5, send: c5}
      - {id: hand, handoff: {note: fault suite}}
`

// faultContents are the contents every lead of faultJourney gets.
var faultContents = []string{"c1", "c2", "c3", "c4", "c5"}

// harness is one isolated system: its own schema, SMTP sink, Temporal
// server and task queue.
type harness struct {
	t      *testing.T
	ctx    context.Context
	db     *pgxpool.Pool
	schema string
	sink   *smtpsink.Sink
	// smtpProxy and pgProxy stand in front of the sink and PostgreSQL,
	// for the worker; cutting them takes the dependency away.
	smtpProxy, pgProxy *tcpproxy.Proxy
	temporalAddr       string
	client             client.Client
	queue              string
	intake             *ingest.Intake
	leads              []lead.Profile
	// expected lists the contents each lead must receive, by lead ID.
	expected map[string][]string
	workers  []*journeyworker.Workers
}

type harnessOptions struct {
	faults   smtpsink.Faults
	journey  string
	scale    float64
	temporal string // address of a Temporal server; an in-memory one when empty
}

func newHarness(t *testing.T, ctx context.Context, o harnessOptions) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("fault suite: skipped with -short")
	}
	h := &harness{t: t, ctx: ctx, queue: t.Name(), expected: map[string][]string{}}
	h.db, h.schema = storetest.Schema(t)
	var err error
	h.sink, err = smtpsink.Start(smtpsink.Options{Faults: o.faults})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.sink.Close() })
	h.smtpProxy, err = tcpproxy.Start(h.sink.Addr)
	require.NoError(t, err)
	t.Cleanup(h.smtpProxy.Close)
	h.pgProxy, err = tcpproxy.Start(pgAddr(t))
	require.NoError(t, err)
	t.Cleanup(h.pgProxy.Close)

	h.temporalAddr = o.temporal
	if h.temporalAddr == "" {
		srv, err := devstack.StartTemporal(devstack.TemporalOptions{Logger: quietLogger()})
		require.NoError(t, err)
		t.Cleanup(srv.Stop)
		h.temporalAddr = srv.Address
	}
	h.client, err = client.Dial(client.Options{HostPort: h.temporalAddr, Logger: sdklog.NewStructuredLogger(quietLogger())})
	require.NoError(t, err)
	t.Cleanup(h.client.Close)

	src := o.journey
	if src == "" {
		src = faultJourney
	}
	j, err := journeys.Parse("fault.yaml", []byte(src))
	require.NoError(t, err)
	_, err = store.PublishJourney(ctx, h.db, j, []byte(src))
	require.NoError(t, err)
	h.intake = &ingest.Intake{DB: h.db, Temporal: h.client, TaskQueue: h.queue, DefaultJourney: j.ID, TimeScale: o.scale}
	return h
}

func pgAddr(t *testing.T) string {
	t.Helper()
	u := storetest.URLFor(t, "", "x")
	cfg, err := pgxpool.ParseConfig(u)
	require.NoError(t, err)
	return net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
}

// smtpHostPort is where workers send mail: through the proxy.
func (h *harness) smtpHostPort() (string, int) {
	host, port, _ := net.SplitHostPort(h.smtpProxy.Addr)
	n, _ := strconv.Atoi(port)
	return host, n
}

// startWorker runs a worker in this process, on PostgreSQL and SMTP
// through the proxies.
func (h *harness) startWorker() {
	t := h.t
	cfg, err := pgxpool.ParseConfig(storetest.URLFor(t, h.pgProxy.Addr, h.schema))
	require.NoError(t, err)
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(h.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	host, port := h.smtpHostPort()
	mail, err := email.New(email.Config{Host: host, Port: port, TLS: "none", From: "Acme <marketing@acme.test>", Timeout: 5 * time.Second, ReplyTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(mail.Close)
	w := journeyworker.New(h.client, h.queue, &activities.Activities{DB: pool, Mail: mail, SalesEmail: "sales@acme.test", Log: quietLogger(),
		Links: links.Signer{Keys: []links.Key{{ID: "t", Secret: []byte(testLinkSecret)}}, BaseURL: "https://hooks.acme.test"}},
		worker.Options{WorkerStopTimeout: 5 * time.Second}, journeyworker.Rates{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	h.workers = append(h.workers, w)
}

// workerProcess is the production worker binary, running.
type workerProcess struct{ cmd *exec.Cmd }

func (h *harness) startWorkerProcess() *workerProcess {
	t := h.t
	host, port := h.smtpHostPort()
	cmd := exec.Command(buildWorker(t))
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+h.temporalAddr, "TEMPORAL_TASK_QUEUE="+h.queue,
		"DATABASE_URL="+storetest.URLFor(t, h.pgProxy.Addr, h.schema),
		"SMTP_HOST="+host, "SMTP_PORT="+strconv.Itoa(port), "SMTP_TLS=none",
		"MAIL_FROM=Acme <marketing@acme.test>", "SALES_EMAIL=sales@acme.test",
		"LINK_SECRET="+testLinkSecret, "PUBLIC_URL=https://hooks.acme.test", "LOG_LEVEL=error",
		// Every lead is @fault.test and the journeys run fast: the suite
		// is about what survives what, not the send rate (starter's
		// TestSendRate... tests are).
		"SEND_RATE=0", "SEND_RATE_PER_DOMAIN=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	p := &workerProcess{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	return p
}

// kill is SIGKILL: no drain, no goodbye.
func (p *workerProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// enroll enrols n leads, retrying through outages as a sender would.
func (h *harness) enroll(n int) {
	for i := range n {
		p := lead.Profile{Email: fmt.Sprintf("lead-%03d@fault.test", i), FirstName: fmt.Sprintf("Lead%d", i)}
		var res ingest.Enrolled
		h.retry("enrol "+p.Email, func() error {
			var err error
			res, err = h.intake.Enroll(h.ctx, p, "", "")
			return err
		})
		h.leads = append(h.leads, res.Profile)
		h.expected[res.Profile.ID] = faultContents
	}
}

// retry runs f until it succeeds, as a webhook sender or a person would
// while a dependency is away.
func (h *harness) retry(what string, f func() error) {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || h.ctx.Err() != nil {
			h.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// answerHandoffs accepts every lead's hand-off as it comes, until all
// journeys are closed or ctx ends.
func (h *harness) answerHandoffs(ctx context.Context) {
	answered := map[string]bool{}
	for ctx.Err() == nil {
		open := 0
		for _, l := range h.leads {
			if answered[l.ID] {
				continue
			}
			open++
			st, err := workflows.QueryLead(ctx, h.client, l.ID)
			if err != nil || st.Lifecycle != workflows.LifecycleHandedOff {
				continue
			}
			if _, err := workflows.SendVerdict(ctx, h.client, l.ID, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted}); err == nil {
				answered[l.ID] = true
			}
		}
		if open == 0 {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// awaitClosed waits until every lead's workflow has closed.
func (h *harness) awaitClosed(timeout time.Duration) {
	t := h.t
	deadline := time.Now().Add(timeout)
	for _, l := range h.leads {
		for {
			d, err := h.client.DescribeWorkflowExecution(h.ctx, workflows.WorkflowID(l.ID), "")
			if err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lead %s's journey did not end within %s (last: %v)", l.Email, timeout, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// figures are what a fault left behind, counted from the outside.
type figures struct {
	fault string
	// sends is the messages the journeys made (journey emails and notices
	// to sales): one per send key.
	sends int
	// received counts messages at the SMTP server; duplicates those beyond
	// the first of a content (or hand-off notice) to one recipient, which
	// counts a message sent twice under one Message-ID and a journey
	// started again (new keys, new Message-IDs) alike.
	received, duplicates int
	// lost counts sends the server never received that are not listed as
	// ambiguous: the promise is zero.
	lost int
	// ambiguous counts sends listed for operators; ambiguousArrived how
	// many of them the server had in fact received.
	ambiguous, ambiguousArrived int
	failed, mismatches          int
	notes                       []string
}

func (f figures) row() string {
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d (%d arrived) | %d | %d |",
		f.fault, f.sends, f.received, f.duplicates, f.lost, f.ambiguous, f.ambiguousArrived, f.failed, f.mismatches)
}

// count compares what the journeys were to send with what the SMTP server
// received, and what PostgreSQL stores with what each workflow says.
func (h *harness) count(fault string, notices bool) figures {
	t := h.t
	ctx := h.ctx
	f := figures{fault: fault}
	byMsgID := map[string]int{}
	// A journey started again makes new send keys, so new Message-IDs:
	// what shows it is a lead receiving the same content twice.
	byContent := map[string]int{}
	for _, m := range h.sink.Messages() {
		f.received++
		byMsgID[m.Header.Get("Message-Id")]++
		what := m.Header.Get("X-Nurture-Content")
		if id := m.Header.Get("X-Nurture-Handoff"); id != "" {
			what = "hand-off " + id
		}
		byContent[strings.Join(m.To, ",")+" "+what]++
	}
	for what, n := range byContent {
		if n > 1 {
			f.duplicates += n - 1
			f.notes = append(f.notes, fmt.Sprintf("received %d times: %s", n, what))
		}
	}
	rows, err := store.ListSends(ctx, h.db, "", 100000)
	require.NoError(t, err)
	keyed := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range rows {
		keyed[r.LeadID+"/"+r.ContentID] = true
		seen[r.MessageID] = true
		n := byMsgID[r.MessageID]
		switch {
		case r.Status == store.SendAmbiguous:
			f.ambiguous++
			if n > 0 {
				f.ambiguousArrived++
			}
		case n == 0:
			f.lost++
			f.notes = append(f.notes, fmt.Sprintf("lost: %s %s (%s)", r.To, r.ContentID, r.Status))
		case r.Status != store.SendSent:
			f.notes = append(f.notes, fmt.Sprintf("received but stored as %s: %s %s", r.Status, r.To, r.ContentID))
		}
	}
	f.sends = len(rows)
	for msgID := range byMsgID {
		if !seen[msgID] {
			f.notes = append(f.notes, "a message with no send: "+msgID)
		}
	}
	// A send the journey should have made and never started is lost too.
	for _, l := range h.leads {
		want := append([]string(nil), h.expected[l.ID]...)
		if notices {
			want = append(want, "sales-handoff")
		}
		for _, c := range want {
			if !keyed[l.ID+"/"+c] {
				f.lost++
				f.sends++
				f.notes = append(f.notes, fmt.Sprintf("never sent: %s %s", l.Email, c))
			}
		}
	}
	for _, l := range h.leads {
		failed, mismatch := h.compare(l)
		if failed {
			f.failed++
		}
		if mismatch != "" {
			f.mismatches++
			f.notes = append(f.notes, mismatch)
		}
	}
	return f
}

// compare checks one lead's stored state against its workflow.
func (h *harness) compare(l lead.Profile) (failed bool, mismatch string) {
	t := h.t
	ctx := h.ctx
	row, err := store.GetLead(ctx, h.db, l.ID)
	require.NoError(t, err)
	d, err := h.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(l.ID), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false, fmt.Sprintf("%s: stored as %s, no workflow", l.Email, row.Lifecycle)
	}
	require.NoError(t, err)
	var want workflows.Result
	switch d.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		st, err := workflows.QueryLead(ctx, h.client, l.ID)
		require.NoError(t, err)
		want = workflows.Result{Lifecycle: st.Lifecycle, Score: st.Total, BuyingStage: st.BuyingStage}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		require.NoError(t, h.client.GetWorkflow(ctx, workflows.WorkflowID(l.ID), "").Get(ctx, &want))
	default:
		return true, fmt.Sprintf("%s: workflow %s", l.Email, d.GetWorkflowExecutionInfo().GetStatus())
	}
	if row.Lifecycle != string(want.Lifecycle) || row.Score != want.Score || row.BuyingStage != want.BuyingStage || row.ExitReason != string(want.ExitReason) {
		return false, fmt.Sprintf("%s: stored %s/%d/%s/%q, workflow %s/%d/%s/%q", l.Email,
			row.Lifecycle, row.Score, row.BuyingStage, row.ExitReason, want.Lifecycle, want.Score, want.BuyingStage, want.ExitReason)
	}
	return false, ""
}

// report logs the figures and appends them to $FAULT_REPORT.
func report(t *testing.T, f figures) {
	t.Helper()
	t.Logf("fault | sends | received | duplicates | lost | ambiguous | failed | mismatches\n%s", f.row())
	for _, n := range f.notes {
		t.Log(n)
	}
	if path := os.Getenv("FAULT_REPORT"); path != "" {
		file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		defer file.Close()
		_, err = fmt.Fprintln(file, f.row())
		require.NoError(t, err)
	}
}

// promise checks what every fault must leave: nothing twice, nothing lost
// outside the ambiguous window, no failed workflow, no disagreement.
func promise(t *testing.T, f figures) {
	t.Helper()
	require.Zero(t, f.duplicates, "duplicates")
	require.Zero(t, f.lost, "lost sends outside the ambiguous window")
	require.Zero(t, f.failed, "failed workflows")
	require.Zero(t, f.mismatches, "leads whose stored state disagrees with their workflow")
}

// testLinkSecret signs the links in test emails (32 bytes at least).
const testLinkSecret = "test-link-secret-0123456789abcdef"
