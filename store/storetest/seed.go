package storetest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SeedScale fills a schema with the data of a real marketing database, by
// SQL, in about a minute: one journey ("bench", stages interest,
// consideration, evaluation) with 100,000 leads and 1,000,000 stored
// events, a scored snapshot for each (1.5 million snapshots in all),
// 400,000 sends (200 of them ambiguous), 2,000 hand-offs (1,000 waiting
// for a verdict), 1,000 tasks and 2,000 suppressed addresses. Benchmarks
// of the report and of the console's pages read it.
func SeedScale(ctx context.Context, pool *pgxpool.Pool) error {
	for i, q := range []string{
		`insert into journey_versions (journey_id, version, hash, source, definition) values
		    ('bench', 1, 'h', '', '{"id": "bench", "name": "Bench", "stages": [{"id": "interest"}, {"id": "consideration"}, {"id": "evaluation"}]}')`,
		`insert into leads (id, email, first_name, last_name, company, title, journey_id, journey_version, lifecycle, buying_stage, score, updated_at)
		 select 'l' || g, 'l' || g || '@bench.test', (array['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken'])[g % 8 + 1],
		     'Lead' || g, 'Company ' || (g % 5000), 'Head of IT', 'bench', 1,
		     case when g % 100 = 0 then 'sql' when g % 50 = 0 then 'handed_off' when g % 7 = 0 then 'nurturing' else 'exited' end,
		     (array['interest','consideration','evaluation'])[g % 3 + 1], g % 100, timestamptz '2026-02-01' + g * interval '1 minute'
		 from generate_series(1, 100000) g`,
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
		`update sends set status = 'ambiguous' where idempotency_key in (select 's' || g || '-1' from generate_series(500, 100000, 500) g)`,
		`insert into suppressions (email, reason, created_at)
		 select 'l' || g || '@bench.test', 'unsubscribe', timestamptz '2026-02-01' + g * interval '1 minute' from generate_series(4, 100000, 50) g`,
		// Index-only scans need the visibility map a vacuum makes, as
		// autovacuum does on a live database.
		`vacuum analyze`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("seed statement %d: %w", i+1, err)
		}
	}
	return nil
}
