package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/devstack"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/metrics"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/workflows"
)

// system is the whole engine on real parts: PostgreSQL (a schema of its
// own), the embedded Temporal server, a worker and the SMTP sink.
type system struct {
	db       *pgxpool.Pool
	temporal *devstack.Temporal
	client   client.Client
	worker   *journeyworker.Workers
	sink     *smtpsink.Sink
	intake   *ingest.Intake
	version  int
	// dynamic is the Temporal server's dynamic configuration.
	dynamic map[string]any
	// metrics, when set, counts what the worker and the client do.
	metrics *metrics.Metrics
	// cliEnv is the environment starter commands run with, when the
	// system was started for them.
	cliEnv map[string]string
	// codec, when set, seals what the client and the worker write.
	codec *codec.Codec
	// rates and domainLimit limit the workers' journey emails (none
	// unless a test sets them).
	rates       journeyworker.Rates
	domainLimit activities.DomainLimit
	// temporalDB, when set, persists the Temporal server to that database
	// of the local PostgreSQL (made afresh) instead of SQLite.
	temporalDB string
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func startSystem(t testing.TB, dbFile string, scale float64, opts ...func(*system)) *system {
	t.Helper()
	return startSystemOn(t, storetest.Pool(t), dbFile, scale, opts...)
}

func startSystemOn(t testing.TB, db *pgxpool.Pool, dbFile string, scale float64, opts ...func(*system)) *system {
	t.Helper()
	ctx := context.Background()
	s := &system{db: db}
	for _, o := range opts {
		o(s)
	}
	var err error
	s.sink, err = smtpsink.Start(smtpsink.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.sink.Close() })
	s.startTemporal(t, dbFile)

	j, pub, err := store.PublishShipped(ctx, s.db, "b2b-nurture")
	require.NoError(t, err)
	s.version = pub.Version
	s.intake = &ingest.Intake{DB: s.db, Temporal: s.client, TaskQueue: t.Name(), DefaultJourney: j.ID, TimeScale: scale}
	return s
}

// startTemporal starts (or restarts) the server and a worker on it.
func (s *system) startTemporal(t testing.TB, dbFile string) {
	t.Helper()
	var err error
	if s.temporalDB != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.temporal, err = devstack.StartTemporalPostgres(ctx, devstack.PostgresOptions{Database: s.temporalDB, User: "postgres", DynamicConfig: s.dynamic})
	} else {
		s.temporal, err = devstack.StartTemporal(devstack.TemporalOptions{DatabaseFile: dbFile, Logger: testLogger(), DynamicConfig: s.dynamic})
	}
	require.NoError(t, err)
	opts := client.Options{HostPort: s.temporal.Address, Logger: sdklog.NewStructuredLogger(testLogger()),
		MetricsHandler: s.metrics.TemporalHandler(testLogger())}
	if s.codec != nil {
		s.codec.Apply(&opts)
	}
	s.client, err = client.Dial(opts)
	require.NoError(t, err)
	s.startWorker(t)
	if s.intake != nil {
		s.intake.Temporal = s.client
	}
	t.Cleanup(s.stop)
}

// startWorker starts the journeys' workers on the test's task queue.
func (s *system) startWorker(t testing.TB) {
	t.Helper()
	mail, err := email.New(email.Config{Host: s.sink.Host(), Port: s.sink.Port(), TLS: "none", From: "Acme <marketing@acme.test>"})
	require.NoError(t, err)
	s.worker = journeyworker.New(s.client, t.Name(), &activities.Activities{DB: s.db, Mail: mail, SalesEmail: "sales@acme.test", Log: testLogger(), Metrics: s.metrics,
		Links:       links.Signer{Keys: []links.Key{{ID: "t", Secret: []byte(testLinkSecret)}}, BaseURL: "https://hooks.acme.test"},
		DomainLimit: s.domainLimit},
		worker.Options{WorkerStopTimeout: 10 * time.Second}, s.rates)
	require.NoError(t, s.worker.Start())
}

// fanOut calls do(i) for every i below n from workers goroutines, and
// returns the first error; after one, no further i is handed out.
func fanOut(workers, n int, do func(i int) error) error {
	next := make(chan int)
	stop := make(chan struct{})
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					once.Do(func() { first = err; close(stop) })
					return
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()
	return first
}

func (s *system) stop() {
	if s.worker != nil {
		s.worker.Stop()
		s.client.Close()
		s.temporal.Stop()
		s.worker = nil
	}
}

// enroll enrols a lead in the default journey and returns its profile.
func (s *system) enroll(ctx context.Context, p lead.Profile) (lead.Profile, error) {
	res, err := s.intake.Enroll(ctx, p, "", "")
	return res.Profile, err
}

func (s *system) event(t *testing.T, l lead.Profile, id string, typ lead.EventType) {
	t.Helper()
	_, err := s.intake.Record(context.Background(), lead.Event{ID: id, LeadID: l.ID, Type: typ, OccurredAt: time.Now().UTC()})
	require.NoError(t, err)
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLeadGoesFromEnrolmentToSales(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Real time: the 3-day wait for engagement outlasts the test, so every
	// move below is caused by an event, not a timer.
	s := startSystem(t, "", 1)
	p, err := s.enroll(ctx, lead.Profile{Email: "Ada@Analytical.test", FirstName: "Ada", Company: "Analytical Engines", Title: "CTO"})
	require.NoError(t, err)

	// The first email arrives at the SMTP server.
	msgs, err := s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= 1 })
	require.NoError(t, err)
	require.Equal(t, []string{"ada@analytical.test"}, msgs[0].To)
	require.Equal(t, "benchmark-report", msgs[0].Header.Get("X-Nurture-Content"))
	require.Equal(t, "List-Unsubscribe=One-Click", msgs[0].Header.Get("List-Unsubscribe-Post"))

	// A click ends the wait for engagement: the webinar invitation goes out.
	s.event(t, p, "click-1", lead.EmailClick)
	msgs, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= 2 })
	require.NoError(t, err)
	require.Equal(t, "webinar-invite", msgs[1].Header.Get("X-Nurture-Content"))

	// The score is persisted with its breakdown.
	// 15 fit points for a CTO from the start, 3 for the click.
	eventually(t, "score 18 persisted", func() bool {
		snap, err := store.LatestSnapshot(ctx, s.db, p.ID)
		return err == nil && snap.Score.Total() == 18
	})
	snap, err := store.LatestSnapshot(ctx, s.db, p.ID)
	require.NoError(t, err)
	require.Equal(t, "event:email_click", snap.Score.Breakdown[0].Rule)
	require.Equal(t, s.version, snap.Version)

	// Intent during the wait crosses the threshold: handed off at once.
	s.event(t, p, "demo-1", lead.DemoRequest)
	s.event(t, p, "form-1", lead.ContactForm)
	s.event(t, p, "webinar-1", lead.WebinarSignup)
	s.event(t, p, "webinar-1", lead.WebinarSignup) // a retried webhook: stored once, counted once
	eventually(t, "hand-off row", func() bool {
		hs, err := store.ListHandoffs(ctx, s.db, p.ID)
		return err == nil && len(hs) == 1
	})
	hs, err := store.ListHandoffs(ctx, s.db, p.ID)
	require.NoError(t, err)
	require.Equal(t, 108, hs[0].Total)
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(s.sink.To("sales@acme.test")) == 1 })
	require.NoError(t, err)
	n, err := store.CountEvents(ctx, s.db, p.ID)
	require.NoError(t, err)
	require.Equal(t, 4, n)

	st, err := workflows.QueryLead(ctx, s.client, p.ID)
	require.NoError(t, err)
	require.EqualValues(t, workflows.LifecycleHandedOff, st.Lifecycle)
	require.Equal(t, 108, st.Total)
	require.Equal(t, 93, st.Score.Behaviour())

	// Sales accepts; the journey ends with the lead an SQL.
	verdict, err := workflows.SendVerdict(ctx, s.client, p.ID, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	require.NoError(t, err)
	require.EqualValues(t, workflows.LifecycleSQL, verdict.Lifecycle, "the verdict's answer says where the lead is now")
	var res workflows.Result
	require.NoError(t, s.client.GetWorkflow(ctx, workflows.WorkflowID(p.ID), "").Get(ctx, &res))
	require.EqualValues(t, workflows.LifecycleSQL, res.Lifecycle)
	row, err := store.GetLead(ctx, s.db, p.ID)
	require.NoError(t, err)
	require.EqualValues(t, workflows.LifecycleSQL, row.Lifecycle)
	require.Equal(t, 108, row.Score)
	require.Len(t, s.sink.To("ada@analytical.test"), 2, "no content after the hand-off")
	recordHistory(t, s.client, workflows.WorkflowID(p.ID), "handoff-accepted-update")
}

// recordHistory saves a finished workflow's history for the replay test in
// workflows/ when UPDATE_HISTORIES=1; commit the file with the change that
// made it. Old files stay: running journeys must keep replaying.
func recordHistory(t *testing.T, c client.Client, workflowID, name string) {
	t.Helper()
	recordRunOf(t, c, workflowID, "", name)
}

// recordRun is recordHistory of one run of a workflow (a recycle or a
// continue-as-new starts another).
func recordRun(t *testing.T, s *system, workflowID, runID, name string) {
	t.Helper()
	recordRunOf(t, s.client, workflowID, runID, name)
}

func recordRunOf(t *testing.T, c client.Client, workflowID, runID, name string) {
	t.Helper()
	if os.Getenv("UPDATE_HISTORIES") != "1" {
		return
	}
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", name+".json"), data, 0o644))
}

func TestRestartKeepsRunningJourneys(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	// A day lasts 2s: the reminder is due 6s after enrolment.
	s := startSystem(t, dbFile, 43200)
	p, err := s.enroll(ctx, lead.Profile{Email: "grace@cobol.test", FirstName: "Grace"})
	require.NoError(t, err)
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) == 1 })
	require.NoError(t, err)

	// The server and worker go away mid-wait and come back on the same file.
	s.stop()
	time.Sleep(time.Second)
	s.startTemporal(t, dbFile)

	var res workflows.Result
	require.NoError(t, s.client.GetWorkflow(ctx, workflows.WorkflowID(p.ID), "").Get(ctx, &res))
	require.EqualValues(t, "no_engagement", res.ExitReason)
	var contents []string
	for _, m := range s.sink.To("grace@cobol.test") {
		contents = append(contents, m.Header.Get("X-Nurture-Content"))
	}
	require.Equal(t, []string{"benchmark-report", "benchmark-reminder"}, contents, "the journey went on, and nothing was sent twice")
}

// testLinkSecret signs the links in test emails (32 bytes at least).
const testLinkSecret = "test-link-secret-0123456789abcdef"
