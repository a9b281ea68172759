package console_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurture-dev/nurture/store/storetest"
)

// BenchmarkPages times every page of the console over a database with
// 100,000 leads and 1,000,000 events (storetest.SeedScale), through the
// receiver's HTTP server with a signed-in marketer, 200 requests a page
// after 5 to warm up, one after another. The baseline, in the same run, is
// the receiver's /healthz through the same server. Reports each page's
// p50 and p99 in milliseconds and its p99's ratio to the baseline's.
//
//	go test ./console -run '^$' -bench Pages -benchtime 1x
func BenchmarkPages(b *testing.B) {
	bd := setup(b)
	began := time.Now()
	if err := storetest.SeedScale(bd.ctx, bd.db); err != nil {
		b.Fatal(err)
	}
	b.Logf("made the data in %s", time.Since(began).Round(time.Second))
	// The seeded leads' changes are dated January and February 2026.
	bd.clock.t = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m := bd.as("marketer")
	pages := []struct{ name, path string }{
		{"baseline /healthz", "/healthz"},
		{"funnel", "/console/funnel?journey=bench"},
		{"journeys", "/console/journeys"},
		{"journey diagram", "/console/journeys/b2b-nurture"},
		{"leads", "/console/leads"},
		{"leads, page 2", ""},
		{"leads, search", "/console/leads?q=company+4242"},
		{"leads, filtered", "/console/leads?lifecycle=handed_off&stage=evaluation"},
		{"lead (handed off)", "/console/leads/l50"},
		{"lead (nurturing)", "/console/leads/l7"},
		{"inbox", "/console/inbox"},
		{"attention", "/console/attention"},
	}
	first := m.get("/console/leads")
	next := strings.Index(first.body, `id="next"`)
	if next < 0 {
		b.Fatal("no next page on the lead list")
	}
	href := first.body[strings.LastIndex(first.body[:next], `href="`)+len(`href="`):]
	pages[5].path = strings.ReplaceAll(href[:strings.Index(href, `"`)], "&amp;", "&")

	// The funnel's report is computed on the first look and then in the
	// background (see reportCache): the first look waits for it.
	cold := time.Now()
	if r := m.get("/console/funnel?journey=bench&period=all"); r.status != http.StatusOK {
		b.Fatalf("funnel: %d", r.status)
	}
	coldFunnel := time.Since(cold)

	b.ResetTimer()
	var baseline time.Duration
	var table strings.Builder
	fmt.Fprintf(&table, "\nfunnel, first look (computes the report): %.0f ms", ms(coldFunnel))
	for b.Loop() {
		for _, p := range pages {
			var took []time.Duration
			for i := range 205 {
				t := time.Now()
				r := m.get(p.path)
				d := time.Since(t)
				if r.status != http.StatusOK {
					b.Fatalf("%s: %d %s", p.path, r.status, r.body)
				}
				if i >= 5 {
					took = append(took, d)
				}
			}
			slices.Sort(took)
			p50, p99 := took[len(took)/2], took[len(took)*99/100]
			if baseline == 0 {
				baseline = p99
			}
			key := strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "", "/", "").Replace(p.name)
			b.ReportMetric(ms(p99), key+"-p99-ms")
			fmt.Fprintf(&table, "\n%-20s p50 %6.1f ms   p99 %6.1f ms   p99/baseline %5.1f", p.name, ms(p50), ms(p99), float64(p99)/float64(baseline))
		}
	}
	// Printed, not logged: a benchmark's log keeps ten lines.
	fmt.Println(table.String())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
