package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/nurture-dev/nurture/devstack"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/pace"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

// BenchmarkProduction runs the shape docker-compose deploys: a Temporal
// server persisted to PostgreSQL (databases nurture_bench_temporal and
// nurture_bench_temporal_visibility on the local server, made afresh; the
// server's four services in this process, NURTURE_BENCH_SHARDS history
// shards, 4 unless set), the production worker binary as a process of its
// own, nurture's schema on the same PostgreSQL, and an SMTP sink. It
// enrols NURTURE_BENCH_LEADS leads (100,000) in the shipped journey at a
// journey day every 30 s of real time, from 8 senders paced as starter
// import paces them; every tenth lead clicks its first email. Then 10,000
// leads (NURTURE_BENCH_HERD) whose one email is due at the same instant.
// It reports the enrolment rate over time (10 s buckets), the first
// emails, the worker's memory (its resident set, sampled), the size of
// nurture's schema and of Temporal's databases per lead, and the herd's
// drain. Send limits are off. NURTURE_BENCH_LEADS=0 runs the herd alone.
//
//	NURTURE_BENCH_LEADS=100000 go test ./starter -run '^$' -bench Production -benchtime 1x -timeout 150m
func BenchmarkProduction(b *testing.B) {
	n := benchInt(b, "NURTURE_BENCH_LEADS", 100000)
	herd := benchInt(b, "NURTURE_BENCH_HERD", 10000)
	shards := benchInt(b, "NURTURE_BENCH_SHARDS", 4)
	const scale = 2880 // a journey day every 30 s
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 140*time.Minute)
		defer cancel()
		db, schema := storetest.Schema(b)
		sink, err := smtpsink.Start(smtpsink.Options{})
		require.NoError(b, err)
		b.Cleanup(func() { _ = sink.Close() })
		tdb := "nurture_bench_temporal"
		srv, err := devstack.StartTemporalPostgres(ctx, devstack.PostgresOptions{Database: tdb, User: "postgres", HistoryShards: int32(shards)})
		require.NoError(b, err)
		b.Cleanup(srv.Stop)
		c, err := client.Dial(client.Options{HostPort: srv.Address, Logger: sdklog.NewStructuredLogger(testLogger())})
		require.NoError(b, err)
		b.Cleanup(c.Close)
		_, _, err = store.PublishShipped(ctx, db, "b2b-nurture")
		require.NoError(b, err)
		const queue = "production"
		w := startWorkerBinary(b, srv.Address, queue, storetest.URLFor(b, "", schema), sink)
		in := &ingest.Intake{DB: db, Temporal: c, TaskQueue: queue, DefaultJourney: "b2b-nurture", TimeScale: scale}
		go w.sample(ctx)

		if n > 0 {
			enrolProduction(b, ctx, n, in, db, sink, w, schema, tdb)
		}
		if herd > 0 {
			r := productionHerd(b, ctx, in, db, sink, herd)
			b.Logf("herd: %d leads' emails due at one instant: the last %s after it (%.1f/s), p50 %s, p99 %s; enrolled at %.1f/s",
				herd, r.processed.Round(time.Millisecond), r.processedPerSec(), r.pct(50).Round(time.Millisecond), r.pct(99).Round(time.Millisecond), r.acceptedPerSec())
			b.ReportMetric(r.processedPerSec(), "herd-emails/s")
			b.ReportMetric(r.processed.Seconds(), "herd-last-email-s")
		}
		b.Logf("worker resident set at the end: %d MB (max %d MB)", w.rss()>>20, w.maxRSS.Load()>>20)
	}
}

// enrolProduction enrols n leads paced as starter import paces them, and
// follows them through their first week.
func enrolProduction(b *testing.B, ctx context.Context, n int, in *ingest.Intake, db storeDB, sink *smtpsink.Sink, w *workerProc, schema, tdb string) {
	b.Helper()
	c := in.Temporal
	queue := in.TaskQueue
	gate := pace.Journeys(c, "default", queue, 5*time.Second)
	{
		// Enrol, counting enrolments in 10 s buckets; every tenth lead
		// clicks at once (the journey counts a click that comes while its
		// first email goes for the wait that follows).
		start := time.Now()
		var buckets sync.Map
		var enrolled atomic.Int64
		err := fanOut(8, n, func(i int) error {
			if err := gate.Wait(ctx); err != nil {
				return err
			}
			res, err := in.Enroll(ctx, lead.Profile{Email: fmt.Sprintf("lead%06d@co%03d.test", i, i%500), FirstName: "Lead"}, "", "")
			if err != nil {
				return err
			}
			k := int(time.Since(start) / (10 * time.Second))
			v, _ := buckets.LoadOrStore(k, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			if done := enrolled.Add(1); done%10000 == 0 {
				b.Logf("%s: %d leads enrolled, %d emails, worker RSS %d MB", time.Since(start).Round(time.Second), done, len(sink.Messages()), w.rss()>>20)
			}
			if i%10 == 0 {
				_, err := in.Record(ctx, lead.Event{ID: "click-" + res.Profile.ID, LeadID: res.Profile.ID, Type: lead.EmailClick, OccurredAt: time.Now().UTC()})
				return err
			}
			return nil
		})
		require.NoError(b, err)
		enrolTook := time.Since(start)
		// Every lead's first week: the quiet ones leave after 7 days.
		for {
			var ended int
			require.NoError(b, db.QueryRow(ctx, `select count(*) from leads where ended_at is not null`).Scan(&ended))
			if ended >= n*9/10 || ctx.Err() != nil {
				break
			}
			time.Sleep(5 * time.Second)
		}
		mailed := len(sink.Messages())
		var rates []float64
		// Whole buckets only; one the gate held throughout counts 0.
		for k := 0; time.Duration(k+1)*10*time.Second <= enrolTook; k++ {
			var got int64
			if v, ok := buckets.Load(k); ok {
				got = v.(*atomic.Int64).Load()
			}
			rates = append(rates, float64(got)/10)
		}
		q := len(rates) / 4
		b.Logf("%d leads enrolled in %s: %.1f/s; per 10 s: min %.1f, median %.1f, max %.1f; first quarter median %.1f, last quarter median %.1f",
			n, enrolTook.Round(time.Second), float64(n)/enrolTook.Seconds(), slices.Min(rates), median(rates), slices.Max(rates), median(rates[:max(q, 1)]), median(rates[len(rates)-max(q, 1):]))
		b.Logf("%d emails by the end of the quiet leads' first week; worker resident set: max %d MB", mailed, w.maxRSS.Load()>>20)
		ours, theirs := dbSizes(b, ctx, db, schema, tdb)
		b.Logf("PostgreSQL per lead: nurture's schema %.1f KB, Temporal's databases %.1f KB (retention 1 day: closed journeys are kept)",
			float64(ours)/float64(n)/1024, float64(theirs)/float64(n)/1024)
		b.ReportMetric(float64(n)/enrolTook.Seconds(), "enrolled/s")
		b.ReportMetric(median(rates[:max(q, 1)]), "enrolled/s-first-quarter")
		b.ReportMetric(median(rates[len(rates)-max(q, 1):]), "enrolled/s-last-quarter")
		b.ReportMetric(float64(w.maxRSS.Load()>>20), "worker-max-rss-MB")
		b.ReportMetric(float64(ours)/float64(n)/1024, "nurture-KB/lead")
		b.ReportMetric(float64(theirs)/float64(n)/1024, "temporal-KB/lead")
	}
}

// productionHerd enrols n leads in a journey whose one email is due at
// one instant after the enrolment, and measures the emails from then.
func productionHerd(b *testing.B, ctx context.Context, in *ingest.Intake, db storeDB, sink *smtpsink.Sink, n int) sideResult {
	b.Helper()
	open := time.Now().Add(time.Duration(n/60)*time.Second + 30*time.Second).Truncate(time.Second)
	publishBurstJourney(b, ctx, db, "herd", open)
	before := len(sink.Messages())
	herdIn := *in
	herdIn.TimeScale = 1
	start := time.Now()
	err := fanOut(8, n, func(i int) error {
		_, err := herdIn.Enroll(ctx, lead.Profile{Email: fmt.Sprintf("herd%05d@co%02d.test", i, i%100), FirstName: "Lead"}, "herd", "")
		return err
	})
	require.NoError(b, err)
	r := sideResult{events: n, accepted: time.Since(start)}
	if time.Now().After(open) {
		b.Logf("herd: enrolment ended %s after the instant", time.Since(open).Round(time.Second))
	}
	for len(sink.Messages()) < before+n && ctx.Err() == nil {
		time.Sleep(time.Second)
	}
	var last time.Time
	for _, m := range sink.Messages()[before:] {
		if strings.HasPrefix(m.To[0], "herd") {
			r.lat = append(r.lat, m.Received.Sub(open))
			if m.Received.After(last) {
				last = m.Received
			}
		}
	}
	r.processed = last.Sub(open)
	return r
}

// storeDB is what the herd needs of the database.
type storeDB = store.DB

// dbSizes is the size of nurture's schema and of Temporal's two databases.
func dbSizes(b *testing.B, ctx context.Context, db storeDB, schema, temporalDB string) (int64, int64) {
	b.Helper()
	var ours, theirs int64
	require.NoError(b, db.QueryRow(ctx, `
select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = $1 and c.relkind = 'r'`, schema).Scan(&ours))
	require.NoError(b, db.QueryRow(ctx, `select pg_database_size($1) + pg_database_size($1 || '_visibility')`, temporalDB).Scan(&theirs))
	return ours, theirs
}

// workerProc is the production worker binary, running.
type workerProc struct {
	cmd    *exec.Cmd
	maxRSS atomic.Int64
}

func startWorkerBinary(b *testing.B, temporalAddr, queue, dbURL string, sink *smtpsink.Sink) *workerProc {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "worker")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nurture-dev/nurture/worker").CombinedOutput()
	require.NoError(b, err, "go build ./worker: %s", out)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+temporalAddr, "TEMPORAL_TASK_QUEUE="+queue, "DATABASE_URL="+dbURL,
		"SMTP_HOST="+sink.Host(), "SMTP_PORT="+strconv.Itoa(sink.Port()), "SMTP_TLS=none",
		"MAIL_FROM=Acme <marketing@acme.test>", "SALES_EMAIL=sales@acme.test",
		"LINK_SECRET="+testLinkSecret, "PUBLIC_URL=https://hooks.acme.test", "LOG_LEVEL=error",
		"METRICS_LISTEN_ADDR=", "SEND_RATE=0", "SEND_RATE_PER_DOMAIN=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(b, cmd.Start())
	w := &workerProc{cmd: cmd}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return w
}

// rss is the worker's resident set in bytes.
func (w *workerProc) rss() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sample keeps the largest resident set seen, every 5 s until ctx ends.
func (w *workerProc) sample(ctx context.Context) {
	for ctx.Err() == nil {
		if r := w.rss(); r > w.maxRSS.Load() {
			w.maxRSS.Store(r)
		}
		time.Sleep(5 * time.Second)
	}
}
