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
	for _, q := range []string{
		`insert into journey_versions (journey_id, version, hash, source, definition) values
		    ('bench', 1, 'h', '', '{"stages": [{"id": "interest"}, {"id": "consideration"}, {"id": "evaluation"}]}')`,
		`insert into leads (id, email) select 'l' || g, 'l' || g || '@bench.test' from generate_series(1, 100000) g`,
		// Enrolment and the first stage of every lead; a third go on to
		// consideration, a third of those to evaluation.
		`insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, breakdown, lifecycle, buying_stage, reason, at, kind)
		 select 'l' || g, 'e', s, 'bench', 1, 0, 0, 0, '[]', 'nurturing', case s when 1 then '' else 'interest' end, 'x',
		     timestamptz '2026-01-05' + g * interval '1 minute', case s when 1 then 'enrolled' else 'stage' end
		 from generate_series(1, 100000) g, generate_series(1, 2) s`,
		`insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, breakdown, lifecycle, buying_stage, reason, at, kind)
		 select 'l' || g, 'e', 3, 'bench', 1, 0, 0, 0, '[]', 'nurturing', 'consideration', 'x', timestamptz '2026-01-10' + g * interval '1 minute', 'stage'
		 from generate_series(1, 100000, 3) g`,
		`insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, breakdown, lifecycle, buying_stage, reason, at, kind)
		 select 'l' || g, 'e', 4, 'bench', 1, 0, 0, 0, '[]', 'nurturing', 'evaluation', 'x', timestamptz '2026-01-15' + g * interval '1 minute', 'stage'
		 from generate_series(1, 100000, 9) g`,
		// Ten events a lead, each scored; one in ten of them an open or a
		// click of the first email.
		`insert into events (id, lead_id, type, occurred_at, properties)
		 select 'ev' || e, 'l' || g, case e % 10 when 0 then 'email_open' when 5 then 'email_click' else 'page_view' end,
		     timestamptz '2026-01-06' + g * interval '1 minute' + e * interval '1 hour', '{"content": "c1"}'
		 from generate_series(1, 100000) g, generate_series(1, 10) e`,
		`insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, breakdown, lifecycle, buying_stage, reason, at, kind)
		 select 'l' || g, 'e', 10 + e, 'bench', 1, e * 5, e * 5, 0, '[]', case when e >= 8 and g % 10 = 0 then 'mql' else 'nurturing' end, 'interest', 'after page_view',
		     timestamptz '2026-01-06' + g * interval '1 minute' + e * interval '1 hour', case when e = 8 and g % 10 = 0 then 'mql' else 'scored' end
		 from generate_series(1, 100000) g, generate_series(1, 10) e`,
		// Most leave; 2,000 are handed off, half accepted.
		`insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, breakdown, lifecycle, buying_stage, reason, at, kind, exit_reason)
		 select 'l' || g, 'e', 30, 'bench', 1, 0, 0, 0, '[]', 'exited', 'interest', 'exited', timestamptz '2026-02-01' + g * interval '1 minute', 'exited',
		     case g % 4 when 0 then 'unsubscribe' else 'no_engagement' end
		 from generate_series(1, 100000) g where g % 50 <> 0`,
		`insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, breakdown, lifecycle, buying_stage, reason, at, kind)
		 select 'l' || g, 'e', 30, 'bench', 1, 95, 50, 45, '[]', 'handed_off', 'evaluation', 'handed off', timestamptz '2026-01-20' + g * interval '1 minute', 'handed_off'
		 from generate_series(50, 100000, 50) g`,
		`insert into handoffs (idempotency_key, lead_id, journey_id, version, score, breakdown, reason, verdict, created_at)
		 select 'h' || g, 'l' || g, 'bench', 1, 95, '[]', 'ready', case when g % 100 = 0 then 'accepted' end, timestamptz '2026-01-20' + g * interval '1 minute'
		 from generate_series(50, 100000, 50) g`,
		`insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost, status, claimed_at, sent_at)
		 select 's' || g || '-' || c, 'l' || g, 'bench', 1, 'step', 'c' || c, 'l' || g || '@bench.test', 'subject', 'm', 0.02, 'sent',
		     timestamptz '2026-01-05' + g * interval '1 minute' + c * interval '2 days', timestamptz '2026-01-05' + g * interval '1 minute' + c * interval '2 days'
		 from generate_series(1, 100000) g, generate_series(1, 4) c`,
		`insert into tasks (idempotency_key, lead_id, journey_id, version, step_id, title, assignee, cost, outcomes, outcome)
		 select 't' || g, 'l' || g, 'bench', 1, 'call', 'Call', 'sales', 30, '{reached,no_answer}', case when g % 200 = 0 then 'reached' end
		 from generate_series(100, 100000, 100) g`,
		`analyze`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
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
