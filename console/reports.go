package console

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/store"
)

// periods are the funnel's choices of enrolment period, in days (0: all).
var periods = []struct {
	Key  string
	Days int
}{{"7d", 7}, {"30d", 30}, {"90d", 90}, {"365d", 365}, {"all", 0}}

const defaultPeriod = "90d"

// reportKey names one funnel report: a journey, a version (0 for all) and
// a period.
type reportKey struct {
	journey string
	version int
	period  string
}

type cachedReport struct {
	reports  []store.Report
	at       time.Time
	err      error
	updating bool
	done     chan struct{}
}

// reportCache keeps each funnel report computed last, and computes it
// again in the background once it is older than the TTL: the report
// aggregates every enrolment of a journey in PostgreSQL (over a second with
// 100,000 leads and 1,000,000 events), which a page cannot wait for each
// time. A page shows when its numbers were computed. Only the first look
// at a report waits for it.
type reportCache struct {
	db  *pgxpool.Pool
	now func() time.Time
	ttl time.Duration
	log *slog.Logger

	mu      sync.Mutex
	entries map[reportKey]*cachedReport
}

func newReportCache(db *pgxpool.Pool, now func() time.Time, ttl time.Duration, log *slog.Logger) *reportCache {
	return &reportCache{db: db, now: now, ttl: ttl, log: log, entries: map[reportKey]*cachedReport{}}
}

// maxCachedReports bounds the cache: the choices on the page are few, but
// the URL can ask for any journey.
const maxCachedReports = 500

func (rc *reportCache) since(period string) time.Time {
	for _, p := range periods {
		if p.Key == period && p.Days > 0 {
			return rc.now().AddDate(0, 0, -p.Days)
		}
	}
	return time.Time{}
}

// get returns the report and when it was computed, waiting only when it
// was never computed.
func (rc *reportCache) get(ctx context.Context, k reportKey) ([]store.Report, time.Time, error) {
	rc.mu.Lock()
	e, ok := rc.entries[k]
	if !ok {
		if len(rc.entries) >= maxCachedReports {
			for old := range rc.entries {
				delete(rc.entries, old)
				break
			}
		}
		e = &cachedReport{updating: true, done: make(chan struct{})}
		rc.entries[k] = e
		rc.mu.Unlock()
		rc.compute(k, e)
		return e.reports, e.at, e.err
	}
	if e.updating && e.at.IsZero() {
		done := e.done
		rc.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
		rc.mu.Lock()
	} else if !e.updating && rc.now().Sub(e.at) >= rc.ttl {
		e.updating = true
		e.done = make(chan struct{})
		go rc.compute(k, e)
	}
	defer rc.mu.Unlock()
	return e.reports, e.at, e.err
}

// compute reads a report; it runs on its own context, so a person who
// closes the page does not waste the work.
func (rc *reportCache) compute(k reportKey, e *cachedReport) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := store.Reports(ctx, rc.db, store.ReportFilter{JourneyID: k.journey, Version: k.version, Since: rc.since(k.period)})
	if err != nil {
		rc.log.Warn("console: funnel report", "journey", k.journey, "error", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err == nil || e.at.IsZero() {
		e.reports, e.err = rs, err
	}
	e.at = rc.now()
	e.updating = false
	close(e.done)
}

// warm computes the default report of every journey.
func (rc *reportCache) warm(ctx context.Context) {
	vs, err := store.ListVersions(ctx, rc.db)
	if err != nil {
		rc.log.Warn("console: warm the funnel reports", "error", err)
		return
	}
	seen := map[string]bool{}
	for _, v := range vs {
		if !seen[v.JourneyID] {
			seen[v.JourneyID] = true
			if _, _, err := rc.get(ctx, reportKey{journey: v.JourneyID, period: defaultPeriod}); err != nil {
				return
			}
		}
	}
}

// checker looks for leads whose journey should be running and is not, by
// the reconciliation's dry run: it asks Temporal about every lead the
// database shows in a journey, so it runs when an operator asks, in the
// background, and the page shows its last findings.
type checker struct {
	in  *ingest.Intake
	now func() time.Time
	log *slog.Logger

	mu       sync.Mutex
	running  bool
	started  time.Time
	finished time.Time
	found    []ingest.Repair
	err      error
}

// start begins a check unless one runs; it says whether it began one.
func (ch *checker) start() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.running {
		return false
	}
	ch.running, ch.started = true, ch.now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		found, err := ch.in.Reconcile(ctx, 2*time.Minute, true)
		if err != nil {
			err = fmt.Errorf("the check stopped: %w", err)
			ch.log.Warn("console: check", "error", err)
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		ch.running, ch.finished, ch.found, ch.err = false, ch.now(), found, err
	}()
	return true
}

// checkState is what the attention page shows of the checks.
type checkState struct {
	Running  bool
	Started  time.Time
	Finished time.Time
	Found    []ingest.Repair
	Err      error
}

func (ch *checker) state() checkState {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return checkState{Running: ch.running, Started: ch.started, Finished: ch.finished, Found: ch.found, Err: ch.err}
}
