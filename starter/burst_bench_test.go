package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/pace"
	"github.com/nurture-dev/nurture/store"
)

// tickerGap is how long a ticker lead waits between its emails.
const tickerGap = 20 * time.Second

// tickerJourney mails its leads every tickerGap, ticks times: journeys
// that already run, whose pace a burst of enrolments must not break.
func tickerJourney(ticks int) string {
	var b strings.Builder
	b.WriteString(`id: ticker
name: Ticker
scoring:
  mql: 10
  events:
    webinar_signup: {points: 5, axis: interest}
handoff:
  min_score: 100
content:
  - {id: tick, stage: one, subject: "Tick {{.FirstName}}", text: "Hi. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
`)
	for i := range ticks {
		if i > 0 {
			fmt.Fprintf(&b, "      - {id: w%d, wait: %s}\n", i, tickerGap)
		}
		fmt.Fprintf(&b, "      - {id: s%d, send: tick}\n", i)
	}
	b.WriteString("      - {id: bye, exit: done}\n")
	return b.String()
}

// BenchmarkBurst: while 200 leads run a journey that mails each of them
// every 20 s (NURTURE_BENCH_TICKERS), 10,000 leads are enrolled at once
// (NURTURE_BENCH_BURST) from 8 senders, as starter import does, first
// unpaced, then paced as starter import paces them (a pace.Gate that holds
// enrolments while the journeys' oldest workflow task or email has waited
// more than 5 s); each on a fresh
// system with no send limit (NURTURE_BENCH_SEND_RATE sets one). It reports
// the enrolment rate, the first emails' rate during the burst and until
// the last, and how late the running journeys' emails came (each gap
// between a ticker lead's emails, less the 20 s it waits), during the
// burst and its drain.
//
//	go test ./starter -run '^$' -bench Burst -benchtime 1x -timeout 60m
func BenchmarkBurst(b *testing.B) {
	n := benchInt(b, "NURTURE_BENCH_BURST", 10000)
	tickers := benchInt(b, "NURTURE_BENCH_TICKERS", 200)
	rate := float64(benchInt(b, "NURTURE_BENCH_SEND_RATE", 0))
	modes := strings.Split(cmpOr(os.Getenv("NURTURE_BENCH_MODES"), "unpaced,paced"), ",")
	if c := benchInt(b, "NURTURE_BENCH_CACHE", 0); c > 0 {
		// A population bigger than the cache: running journeys are
		// evicted between their emails, as most are in production.
		worker.SetStickyWorkflowCacheSize(c)
	}
	for range b.N {
		for _, mode := range modes {
			r := runBurstWithTickers(b, n, tickers, rate, mode == "paced")
			fmt.Printf("%s: %s\n", mode, r)
			b.ReportMetric(r.enrolRate, mode+"-enrolled/s")
			b.ReportMetric(r.firstDuring, mode+"-first-emails/s-during")
			b.ReportMetric(r.drain.Seconds(), mode+"-last-first-email-s")
			b.ReportMetric(r.late(50).Seconds(), mode+"-ticker-late-p50-s")
			b.ReportMetric(r.late(99).Seconds(), mode+"-ticker-late-p99-s")
			b.ReportMetric(r.late(100).Seconds(), mode+"-ticker-late-max-s")
		}
	}
}

type tickerRun struct {
	n                      int
	enrolTook, drain       time.Duration
	enrolRate, firstDuring float64
	held                   time.Duration
	lateness               []time.Duration
	// The most that waited on the journeys' queue (workflow tasks) and
	// on the send queue, sampled every 2 s.
	workflowBacklog, sendBacklog pace.Backlog
}

func (r tickerRun) late(p int) time.Duration { return percentile(r.lateness, p) }

func (r tickerRun) String() string {
	return fmt.Sprintf("%d leads enrolled in %s (%.0f/s, held %s); first emails %.1f/s during the enrolment, the last %s after it began; "+
		"running journeys' emails late by p50 %s, p99 %s, max %s (%d gaps); most waiting: %d workflow tasks (oldest %s), %d emails (oldest %s)",
		r.n, r.enrolTook.Round(time.Millisecond), r.enrolRate, r.held.Round(time.Millisecond), r.firstDuring, r.drain.Round(time.Millisecond),
		r.late(50).Round(time.Millisecond), r.late(99).Round(time.Millisecond), r.late(100).Round(time.Millisecond), len(r.lateness),
		r.workflowBacklog.Tasks, r.workflowBacklog.Age.Round(100*time.Millisecond), r.sendBacklog.Tasks, r.sendBacklog.Age.Round(100*time.Millisecond))
}

func runBurstWithTickers(b *testing.B, n, tickers int, rate float64, paced bool) tickerRun {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	s := startSystem(b, "", 1, func(s *system) { s.rates = journeyworker.Rates{Cluster: rate} })
	defer s.stop()

	// The running journeys: long enough to tick through the burst.
	src := tickerJourney(60)
	j, err := journeys.Parse("ticker.yaml", []byte(src))
	require.NoError(b, err)
	_, err = store.PublishJourney(ctx, s.db, j, []byte(src))
	require.NoError(b, err)
	tickerAddr := func(i int) string { return fmt.Sprintf("tick%04d@ticker.test", i) }
	for i := range tickers {
		_, err := s.intake.Enroll(ctx, lead.Profile{Email: tickerAddr(i), FirstName: "Tick"}, "ticker", "")
		require.NoError(b, err)
	}
	h := &scaleHarness{s: s}
	h.awaitMail(b, tickers, 5*time.Minute)
	// Let them tick once before the burst.
	time.Sleep(tickerGap + 5*time.Second)

	var gate *pace.Gate
	if paced {
		gate = pace.Journeys(s.client, "default", s.intake.TaskQueue, 5*time.Second)
	}
	// What waits on the two queues, sampled through the burst.
	var mu sync.Mutex
	var most [2]pace.Backlog
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		qs := pace.Journeys(s.client, "default", s.intake.TaskQueue, 0).Queues
		for sampling.Err() == nil {
			for i, q := range qs {
				if bl, err := pace.Measure(sampling, s.client, "default", q); err == nil {
					mu.Lock()
					most[i].Tasks, most[i].Age = max(most[i].Tasks, bl.Tasks), max(most[i].Age, bl.Age)
					mu.Unlock()
				}
			}
			time.Sleep(2 * time.Second)
		}
	}()
	start := time.Now()
	err = fanOut(8, n, func(i int) error {
		if gate != nil {
			if err := gate.Wait(ctx); err != nil {
				return err
			}
		}
		_, err := s.intake.Enroll(ctx, lead.Profile{Email: fmt.Sprintf("burst%05d@co%02d.test", i, i%100), FirstName: "Lead"}, "", "")
		return err
	})
	require.NoError(b, err)
	enrolled := time.Now()
	deadline := time.Now().Add(40 * time.Minute)
	for {
		firsts := 0
		for _, m := range s.sink.Messages() {
			if !strings.HasSuffix(m.To[0], "@ticker.test") {
				firsts++
			}
		}
		if firsts >= n {
			break
		}
		require.True(b, time.Now().Before(deadline), "%d of %d first emails after 40 minutes", firsts, n)
		time.Sleep(200 * time.Millisecond)
	}

	stopSampling()
	mu.Lock()
	r := tickerRun{n: n, enrolTook: enrolled.Sub(start), workflowBacklog: most[0], sendBacklog: most[1]}
	mu.Unlock()
	r.enrolRate = float64(n) / r.enrolTook.Seconds()
	if gate != nil {
		r.held = gate.Waited()
	}
	byLead := map[string][]time.Time{}
	var last time.Time
	during := 0
	for _, m := range s.sink.Messages() {
		to := m.To[0]
		if strings.HasSuffix(to, "@ticker.test") {
			byLead[to] = append(byLead[to], m.Received)
			continue
		}
		if !m.Received.After(enrolled) {
			during++
		}
		if m.Received.After(last) {
			last = m.Received
		}
	}
	r.drain = last.Sub(start)
	r.firstDuring = float64(during) / r.enrolTook.Seconds()
	for _, ts := range byLead {
		slices.SortFunc(ts, time.Time.Compare)
		for k := 1; k < len(ts); k++ {
			// Gaps that overlap the burst or its drain (a journey held
			// up throughout has one gap spanning it).
			if !ts[k].After(start) || !ts[k-1].Before(last) {
				continue
			}
			r.lateness = append(r.lateness, ts[k].Sub(ts[k-1])-tickerGap)
		}
	}
	return r
}
