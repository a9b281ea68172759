package console

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/store"
)

// period is a funnel's choice of enrolment period: the last Days days
// (0: all time).
type period struct {
	Key  string
	Days int
}

// periods are the funnel's choices.
var periods = []period{{"7d", 7}, {"30d", 30}, {"90d", 90}, {"365d", 365}, {"all", 0}}

const defaultPeriod = "90d"

// reportKey names one funnel report: a journey, a version (0 for all) and
// a period.
type reportKey struct {
	journey string
	version int
	period  string
}

type cachedReport struct {
	reports []store.Report
	// at is when reports were computed; zero until they first were.
	at time.Time
	// failed says why the last computation failed, if it did; the page
	// shows it over the figures of the last one that did not.
	failed   error
	updating bool
	done     chan struct{}
}

// reportCache keeps each funnel report computed last, and computes it
// again in the background once it is older than the TTL: the report
// aggregates every enrolment of a journey in PostgreSQL (over a second with
// 100,000 leads and 1,000,000 events), which a page cannot wait for each
// time. A page shows when its numbers were computed. Only the first look
// at a report waits for it, and a first look that failed is not kept.
type reportCache struct {
	life context.Context
	db   *pgxpool.Pool
	now  func() time.Time
	ttl  time.Duration
	log  *slog.Logger

	mu      sync.Mutex
	entries map[reportKey]*cachedReport
}

func newReportCache(life context.Context, db *pgxpool.Pool, now func() time.Time, ttl time.Duration, log *slog.Logger) *reportCache {
	return &reportCache{life: life, db: db, now: now, ttl: ttl, log: log, entries: map[reportKey]*cachedReport{}}
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

// shown is a report as a page shows it.
type shown struct {
	reports []store.Report
	at      time.Time
	// failed is why the newest computation failed, when the figures are
	// older than it.
	failed error
}

// get returns the report, waiting only when it was never computed.
func (rc *reportCache) get(ctx context.Context, k reportKey) (shown, error) {
	for {
		rc.mu.Lock()
		e, ok := rc.entries[k]
		switch {
		case !ok:
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
			continue
		case e.at.IsZero() && e.updating:
			done := e.done
			rc.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				return shown{}, ctx.Err()
			}
			continue
		case e.at.IsZero():
			// The first computation failed: said once, and not kept, so
			// the next look tries again.
			err := e.failed
			delete(rc.entries, k)
			rc.mu.Unlock()
			return shown{}, err
		}
		if !e.updating && rc.now().Sub(e.at) >= rc.ttl {
			e.updating = true
			e.done = make(chan struct{})
			go rc.compute(k, e)
		}
		out := shown{reports: e.reports, at: e.at, failed: e.failed}
		rc.mu.Unlock()
		return out, nil
	}
}

// compute reads a report on the console's own context, so a person who
// closes the page does not waste the work, and the console's Close stops
// it.
func (rc *reportCache) compute(k reportKey, e *cachedReport) {
	ctx, cancel := context.WithTimeout(rc.life, 2*time.Minute)
	defer cancel()
	rs, err := store.Reports(ctx, rc.db, store.ReportFilter{JourneyID: k.journey, Version: k.version, Since: rc.since(k.period)})
	if err != nil {
		rc.log.Warn("console: funnel report", "journey", k.journey, "error", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e.failed = err
	if err == nil {
		e.reports, e.at = rs, rc.now()
	}
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
			if _, err := rc.get(ctx, reportKey{journey: v.JourneyID, period: defaultPeriod}); err != nil {
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
	life context.Context
	in   *ingest.Intake
	now  func() time.Time
	log  *slog.Logger

	mu       sync.Mutex
	running  bool
	started  time.Time
	finished time.Time
	found    []ingest.Repair
	total    int
	err      error
}

// maxFindings bounds the findings a check keeps.
const maxFindings = 200

// start begins a check unless one runs; it says whether it began one.
func (ch *checker) start() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.running {
		return false
	}
	ch.running, ch.started = true, ch.now()
	go func() {
		ctx, cancel := context.WithTimeout(ch.life, 30*time.Minute)
		defer cancel()
		found, err := ch.in.Reconcile(ctx, 2*time.Minute, true)
		if err != nil {
			ch.log.Warn("console: check", "error", err)
			err = errors.New("the check stopped before the end (the receiver's log says why); what it found so far is below")
		}
		total := len(found)
		// A page shows a bounded list: when Temporal is away, every lead
		// is a finding.
		if len(found) > maxFindings {
			found = found[:maxFindings]
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		ch.running, ch.finished, ch.found, ch.total, ch.err = false, ch.now(), found, total, err
	}()
	return true
}

// checkState is what the attention page shows of the checks.
type checkState struct {
	Running  bool
	Started  time.Time
	Finished time.Time
	Found    []ingest.Repair
	// Total counts the findings, of which Found are the first.
	Total int
	Err   error
}

func (ch *checker) state() checkState {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return checkState{Running: ch.running, Started: ch.started, Finished: ch.finished, Found: ch.found, Total: ch.total, Err: ch.err}
}
