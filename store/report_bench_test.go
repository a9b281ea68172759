package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

// BenchmarkReport reads the report of a journey with 100,000 leads and
// 1,000,000 stored events (and a scored snapshot for each, 1.5 million
// snapshots in all, 400,000 sends, 2,000 hand-offs, 1,000 tasks), made by
// SQL in a schema of its own; and, as the baseline in the same run, one
// plain scan of the snapshots (count(*)). Reports the report's time and its
// ratio to the scan.
//
//	go test ./store -run '^$' -bench Report -benchtime 3x -count 3
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	pool := storetest.Pool(b)
	began := time.Now()
	if err := storetest.SeedScale(ctx, pool); err != nil {
		b.Fatal(err)
	}
	b.Logf("made the data in %s", time.Since(began).Round(time.Second))
	var scan, report time.Duration
	for b.Loop() {
		t := time.Now()
		var n int
		if err := pool.QueryRow(ctx, `select count(*) from score_snapshots`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		scan += time.Since(t)
		t = time.Now()
		rs, err := store.Reports(ctx, pool, store.ReportFilter{JourneyID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		report += time.Since(t)
		if len(rs) != 1 || rs[0].Leads != 100000 || rs[0].Handoffs != 2000 {
			b.Fatalf("unexpected report: %+v", rs)
		}
	}
	b.ReportMetric(float64(report.Milliseconds())/float64(b.N), "report-ms")
	b.ReportMetric(float64(scan.Milliseconds())/float64(b.N), "scan-ms")
	b.ReportMetric(float64(report)/float64(scan), "ratio")
}
