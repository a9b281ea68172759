package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/smtpsink"
)

// burstRun is what one burst of leads measured.
type burstRun struct {
	arrivals
	open time.Time
	// late is how many leads were enrolled after the moment (their email
	// goes as soon as they are).
	late int
	// elapsed is from the moment to the last email; main from the moment
	// to the last email of a domain other than the busy one, and mainSent
	// how many emails had arrived by then.
	elapsed, main time.Duration
	mainSent      int
	// most is the fullest window of each domain's slots.
	most map[string]int
}

// benchInt reads a whole number from the environment, else def.
func benchInt(b *testing.B, env string, def int) int {
	if v := os.Getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, env)
		return n
	}
	return def
}

// BenchmarkSendRate: N leads (10,000 unless NURTURE_BENCH_LEADS says)
// whose one email falls due at the same minute, a tenth of them on one
// busy domain and the rest over a hundred others; first with no limit
// (the baseline: how fast this machine sends), then at SEND_RATE
// (NURTURE_BENCH_SEND_RATE, 20/s: under the baseline, so the limit is
// what is measured) and SEND_RATE_PER_DOMAIN (NURTURE_BENCH_PER_DOMAIN,
// 100 a minute: under the busy domain's share of 20/s, so it binds), each
// on a fresh embedded
// Temporal server and schema. It reports the rate achieved against the
// one configured, emails lost, duplicated and early, and the fullest
// minute of the busy domain. NURTURE_BENCH_BASELINE=off leaves the
// baseline out.
//
//	go test ./starter -run '^$' -bench SendRate -benchtime 1x -timeout 60m
func BenchmarkSendRate(b *testing.B) {
	n := benchInt(b, "NURTURE_BENCH_LEADS", 10000)
	rate := float64(benchInt(b, "NURTURE_BENCH_SEND_RATE", 20))
	perDomain := benchInt(b, "NURTURE_BENCH_PER_DOMAIN", 100)
	baseline := os.Getenv("NURTURE_BENCH_BASELINE") != "off"
	for range b.N {
		var base burstRun
		baseRate := math.NaN()
		if baseline {
			base = runBurst(b, n, journeyworker.Rates{}, activities.DomainLimit{})
			baseRate = float64(len(base.all)) / base.elapsed.Seconds()
			b.Logf("%d leads: baseline (no limit) %d emails in %s from the moment: %.1f/s; lost %d, duplicated %d, early %d, enrolled late %d",
				n, len(base.all), base.elapsed.Round(time.Millisecond), baseRate, base.lost, base.dups, base.early, base.late)
		}
		got := runBurst(b, n, journeyworker.Rates{Cluster: rate}, activities.DomainLimit{Sends: perDomain, Per: time.Minute})
		mainRate := float64(got.mainSent) / got.main.Seconds()
		b.Logf("SEND_RATE %g/s, SEND_RATE_PER_DOMAIN %d/min: %d emails to the other domains' last in %s: %.1f/s (%.2f of the rate, %.2f of the baseline); all %d in %s; lost %d, duplicated %d, early %d, enrolled late %d; busy.test's fullest minute %d",
			rate, perDomain, got.mainSent, got.main.Round(time.Millisecond), mainRate, mainRate/rate, mainRate/baseRate,
			len(got.all), got.elapsed.Round(time.Millisecond), got.lost, got.dups, got.early, got.late, got.most["busy.test"])
		b.ReportMetric(baseRate, "baseline-emails/s")
		b.ReportMetric(mainRate, "limited-emails/s")
		b.ReportMetric(mainRate/rate, "rate-ratio")
		b.ReportMetric(mainRate/baseRate, "of-baseline")
		b.ReportMetric(float64(base.lost+got.lost), "lost")
		b.ReportMetric(float64(base.dups+got.dups), "duplicated")
		b.ReportMetric(float64(base.early+got.early), "early")
		b.ReportMetric(float64(got.most["busy.test"]), "busy-domain-fullest-minute")
	}
}

// runBurst enrols n leads in a burst journey whose moment is the first
// whole minute after the enrolment should be done, waits for every email
// and every journey's end, and measures what the SMTP sink got.
func runBurst(b *testing.B, n int, rates journeyworker.Rates, limit activities.DomainLimit) burstRun {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	s := startSystem(b, "", 1, func(s *system) { s.rates, s.domainLimit = rates, limit })
	defer s.stop()
	addrs := make([]string, n)
	for i := range addrs {
		if i%10 == 0 {
			addrs[i] = fmt.Sprintf("lead%05d@busy.test", i)
		} else {
			addrs[i] = fmt.Sprintf("lead%05d@co%02d.test", i, i%100)
		}
	}
	// Enrolment runs at about 100 leads a second here; the moment leaves
	// room for half that.
	open := time.Now().Add(time.Duration(n/50)*time.Second + 20*time.Second).Truncate(time.Minute).Add(time.Minute)
	late := s.burst(b, ctx, fmt.Sprintf("burst-%d", n), open, addrs)
	b.Logf("enrolled %d leads; the moment is %s, in %s", n, open.Format(time.TimeOnly), time.Until(open).Round(time.Second))
	_, err := s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= n })
	require.NoError(b, err)
	s.awaitJourneysEnded(b, ctx)

	r := burstRun{arrivals: countArrivals(s.sink.Messages(), addrs, open), open: open, late: late}
	r.elapsed = r.all[len(r.all)-1].Sub(open)
	var lastOther time.Time
	for d, ts := range r.at {
		if d != "busy.test" && ts[len(ts)-1].After(lastOther) {
			lastOther = ts[len(ts)-1]
		}
	}
	r.main = lastOther.Sub(open)
	for _, at := range r.all {
		if !at.After(lastOther) {
			r.mainSent++
		}
	}
	if limit.Sends > 0 {
		r.most = domainLimitHeld(b, ctx, s, r.arrivals, limit.Sends)
	}
	return r
}
