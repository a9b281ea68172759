package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The content IDs of the notices sent to sales, which share the sends
// table with the journeys' emails and are not touchpoints of a lead.
const (
	NoticeHandoff = "sales-handoff"
	NoticeTask    = "task"
)

// ReportFilter picks the journey (and version) a report is about, and the
// enrolments that entered it from Since on.
type ReportFilter struct {
	JourneyID string
	// Version 0 reports every version of the journey, each apart.
	Version int
	Since   time.Time
	// AssistWindow is how long before a hand-off a touchpoint counts as
	// having assisted it.
	AssistWindow time.Duration
}

// Report is one journey version's funnel, touchpoints and costs, read from
// the typed progress records, sends, tasks and hand-offs.
type Report struct {
	JourneyID string `json:"journey_id"`
	Version   int    `json:"version"`
	// Leads counts enrolments that entered the journey version.
	Leads int `json:"leads"`
	// Stages in the journey's order (as its published version lists
	// them), else in the order leads first entered them.
	Stages []StageCount `json:"stages"`
	// Exits by the stage the lead was in and the reason.
	Exits []ExitCount `json:"exits"`
	// Goals counts the enrolments that reached the journey's goal, by goal
	// (an event type, or verdict:accepted): successes, not exits.
	Goals map[string]int `json:"goals"`
	MQL   int            `json:"mql"`
	// Handoffs counts enrolments handed off (at least once).
	Handoffs int `json:"handoffs"`
	// Verdicts by kind (accepted, rejected, recycle) and Waiting (none
	// yet) are those of the hand-offs made from Since on.
	Verdicts map[string]int `json:"verdicts"`
	Waiting  int            `json:"waiting"`
	// DaysToMQL and DaysToHandoff are medians over the enrolments that got
	// there, from their entry; nil when none did.
	DaysToMQL     *float64     `json:"days_to_mql"`
	DaysToHandoff *float64     `json:"days_to_handoff"`
	Touchpoints   []Touchpoint `json:"touchpoints"`
	// Cost is what the content sent and the tasks given cost.
	Cost float64 `json:"cost"`
}

// StageCount is how many enrolments were ever in a stage, and how many
// entered the journey there.
type StageCount struct {
	Stage       string `json:"stage"`
	Reached     int    `json:"reached"`
	EnteredHere int    `json:"entered_here"`
	// FromBefore counts those that reached the stage listed before this
	// one and this one too: the conversion between the two.
	FromBefore int `json:"from_before"`
}

// stagePath is how many enrolments went through a set of stages, having
// entered at the first.
type stagePath struct {
	stages []string
	first  string
	n      int
}

// stageCounts lists the stages in the journey's order (others after, most
// reached first) with how many reached each, entered there, and went on
// from the stage before to this one.
func stageCounts(paths []stagePath, order []string) []StageCount {
	reached := map[string]int{}
	for _, p := range paths {
		for _, s := range p.stages {
			reached[s] += p.n
		}
	}
	names := slices.Clone(order)
	names = slices.DeleteFunc(names, func(s string) bool { return reached[s] == 0 })
	var others []string
	for s := range reached {
		if !slices.Contains(order, s) {
			others = append(others, s)
		}
	}
	slices.SortFunc(others, func(a, b string) int {
		if reached[a] != reached[b] {
			return reached[b] - reached[a]
		}
		return strings.Compare(a, b)
	})
	names = append(names, others...)
	out := make([]StageCount, 0, len(names))
	for i, s := range names {
		c := StageCount{Stage: s, Reached: reached[s]}
		for _, p := range paths {
			if p.first == s {
				c.EnteredHere += p.n
			}
			if i > 0 && slices.Contains(p.stages, names[i-1]) && slices.Contains(p.stages, s) {
				c.FromBefore += p.n
			}
		}
		out = append(out, c)
	}
	return out
}

// ExitCount is how many left from a stage for a reason.
type ExitCount struct {
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
	Leads  int    `json:"leads"`
}

// What a touchpoint is.
const (
	TouchpointContent = "content"
	TouchpointTask    = "task"
)

// Touchpoint is a content item's or a task step's numbers.
type Touchpoint struct {
	// Kind is TouchpointContent or TouchpointTask; ID the content item or
	// the task's step.
	Kind    string  `json:"kind"`
	ID      string  `json:"id"`
	Sent    int     `json:"sent"`
	Opened  int     `json:"opened"`
	Clicked int     `json:"clicked"`
	Cost    float64 `json:"cost"`
	// Assisted counts hand-offs of leads that got this touchpoint within
	// the assist window before.
	Assisted int `json:"assisted"`
	// Outcomes of a task step, by outcome.
	Outcomes map[string]int `json:"outcomes"`
}

// Reports reads the report of each version of a journey (or the one
// version asked for), newest version first. Everything is aggregated in
// PostgreSQL, in three statements that run side by side, each with room to
// sort in memory.
func Reports(ctx context.Context, db *pgxpool.Pool, f ReportFilter) ([]Report, error) {
	if f.AssistWindow <= 0 {
		f.AssistWindow = 30 * 24 * time.Hour
	}
	var mu sync.Mutex
	byVersion := map[int]*Report{}
	paths, order := map[int][]stagePath{}, map[int][]string{}
	get := func(v int) *Report {
		r, ok := byVersion[v]
		if !ok {
			r = &Report{JourneyID: f.JourneyID, Version: v, Verdicts: map[string]int{}, Goals: map[string]int{}}
			byVersion[v] = r
		}
		return r
	}
	parts := []struct {
		name string
		sql  string
		args []any
		scan func(pgx.Rows) error
	}{
		{"milestones", reportMilestonesSQL, []any{f.JourneyID, f.Version, f.Since}, func(rows pgx.Rows) error {
			var section, a, b string
			var v, n, n2, n3 int
			var x, y *float64
			if err := rows.Scan(&section, &v, &a, &b, &n, &n2, &n3, &x, &y); err != nil {
				return err
			}
			switch section {
			case "funnel":
				r := get(v)
				r.Leads, r.MQL, r.Handoffs, r.DaysToMQL, r.DaysToHandoff = n, n2, n3, x, y
			case "path":
				var stages []string
				if a != "" {
					stages = strings.Split(a, "\x1f")
				}
				paths[v] = append(paths[v], stagePath{stages: stages, first: b, n: n})
			case "order":
				order[v] = append(order[v], a)
			case "exit":
				r := get(v)
				r.Exits = append(r.Exits, ExitCount{Stage: a, Reason: b, Leads: n})
			case "goal":
				get(v).Goals[a] += n
			}
			return nil
		}},
		{"hand-offs", reportHandoffsSQL, []any{f.JourneyID, f.Version, f.Since}, func(rows pgx.Rows) error {
			var v, n int
			var verdict string
			if err := rows.Scan(&v, &verdict, &n); err != nil {
				return err
			}
			r := get(v)
			if verdict == "" {
				r.Waiting += n
			} else {
				r.Verdicts[verdict] += n
			}
			return nil
		}},
		{"touchpoints", reportTouchpointsSQL, []any{f.JourneyID, f.Version, f.Since, f.AssistWindow.Seconds(), []string{NoticeHandoff, NoticeTask}}, func(rows pgx.Rows) error {
			var tp Touchpoint
			var v int
			if err := rows.Scan(&tp.Kind, &v, &tp.ID, &tp.Sent, &tp.Opened, &tp.Clicked, &tp.Cost, &tp.Assisted, &tp.Outcomes); err != nil {
				return err
			}
			r := get(v)
			r.Touchpoints = append(r.Touchpoints, tp)
			r.Cost += tp.Cost
			return nil
		}},
	}
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Go(func() {
			errs[i] = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "set local work_mem = '64MB'"); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, part.sql, part.args...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					mu.Lock()
					err := part.scan(rows)
					mu.Unlock()
					if err != nil {
						return err
					}
				}
				return rows.Err()
			})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("report on %s: %s: %w", f.JourneyID, part.name, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(byVersion))
	for v, r := range byVersion {
		r.Stages = stageCounts(paths[v], order[v])
		slices.SortFunc(r.Exits, func(a, b ExitCount) int {
			if a.Leads != b.Leads {
				return b.Leads - a.Leads
			}
			return strings.Compare(a.Stage+"\x00"+a.Reason, b.Stage+"\x00"+b.Reason)
		})
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Report) int { return b.Version - a.Version })
	return out, nil
}

// The report's queries. Milestones are the snapshots that are not plain
// rescores (enrolled, stage, mql, handed_off, verdict, exited): a few per
// enrolment, read from their own partial index, where the rescores are most
// rows. One pass sums each enrolment up; the funnel, stages and exits are
// counted from those sums, in one statement.
const (
	reportMilestonesSQL = `
with per as (
    select version, min(at) as entered,
        min(at) filter (where kind = 'mql') as mql_at,
        min(at) filter (where kind = 'handed_off') as handoff_at,
        array_agg(distinct buying_stage) filter (where kind = 'stage') as stages,
        (array_agg(buying_stage order by at, id) filter (where kind = 'stage'))[1] as first_stage,
        array_agg(buying_stage || E'\x1f' || exit_reason) filter (where kind = 'exited') as exits,
        array_agg(distinct exit_reason) filter (where kind = 'goal') as goals
    from score_snapshots
    where journey_id = $1 and ($2 = 0 or version = $2) and kind <> 'scored'
    -- Byte order groups as well as the database's collation, and sorts
    -- several times faster.
    group by lead_id collate "C", enrollment collate "C", version
    having min(at) >= $3
), funnel as (
    select 'funnel' as section, version, '' as a, '' as b, count(*) as n, count(mql_at) as n2, count(handoff_at) as n3,
        percentile_cont(0.5) within group (order by extract(epoch from mql_at - entered)) filter (where mql_at is not null) / 86400 as x,
        percentile_cont(0.5) within group (order by extract(epoch from handoff_at - entered)) filter (where handoff_at is not null) / 86400 as y
    from per group by version
), paths as (
    select 'path' as section, version, array_to_string(array(select x from unnest(stages) x order by x), E'\x1f') as a,
        coalesce(first_stage, '') as b, count(*) as n, 0 as n2, 0 as n3, null::float8 as x, null::float8 as y
    from per group by version, a, b
), exits as (
    select 'exit' as section, p.version, split_part(ex, E'\x1f', 1) as a, split_part(ex, E'\x1f', 2) as b, count(*) as n, 0 as n2, 0 as n3,
        null::float8 as x, null::float8 as y
    from per p, unnest(p.exits) ex group by p.version, ex
), goals as (
    select 'goal' as section, p.version, g as a, '' as b, count(*) as n, 0 as n2, 0 as n3, null::float8 as x, null::float8 as y
    from per p, unnest(p.goals) g group by p.version, g
)
select section, version, a, b, n, n2, n3, x, y from funnel
union all select * from paths
union all select * from exits
union all select * from goals
union all
-- The journey's stages in its order, to list and convert them in.
select 'order', jv.version, o.stage->>'id', '', o.ord::int, 0, 0, null, null
from journey_versions jv, jsonb_array_elements(jv.definition->'stages') with ordinality as o(stage, ord)
where jv.journey_id = $1 and ($2 = 0 or jv.version = $2)`
	reportHandoffsSQL = `
select version, coalesce(verdict, ''), count(*) from handoffs
where journey_id = $1 and ($2 = 0 or version = $2) and created_at >= $3
group by version, verdict`
	// Opens and clicks are the lead's, of the content item it was sent
	// (events name their content); assisted hand-offs are those of leads
	// that got the item within the window before.
	reportTouchpointsSQL = `
with sent as (
    select s.version, s.content_id, s.lead_id, s.sent_at, s.cost
    from sends s
    where s.journey_id = $1 and ($2 = 0 or s.version = $2) and s.claimed_at >= $3
        and s.status in ('sent', 'ambiguous') and s.content_id <> all($5)
), engaged as (
    select ev.lead_id, ev.properties->>'content' as content_id,
        bool_or(ev.type = 'email_open') as opened, bool_or(ev.type = 'email_click') as clicked
    from events ev
    where ev.type in ('email_open', 'email_click')
    group by 1, 2
), assisted as (
    select s.version, s.content_id, count(distinct h.id) as n
    from sent s join handoffs h on h.lead_id = s.lead_id and h.journey_id = $1
        and s.sent_at <= h.created_at and s.sent_at > h.created_at - make_interval(secs => $4)
    group by s.version, s.content_id
)
select 'content', st.version, st.content_id, count(*), count(*) filter (where e.opened), count(*) filter (where e.clicked),
    coalesce(sum(st.cost), 0)::float8, coalesce(min(a.n), 0), '{}'::jsonb
from sent st
left join engaged e on e.lead_id = st.lead_id and e.content_id = st.content_id
left join assisted a on a.version = st.version and a.content_id = st.content_id
group by st.version, st.content_id
union all
select 'task', t.version, t.step_id, count(*), 0, 0, coalesce(sum(t.cost), 0)::float8, 0,
    coalesce(jsonb_object_agg(t.outcome, t.n) filter (where t.outcome is not null), '{}'::jsonb)
from (select version, step_id, cost, outcome, count(*) over (partition by version, step_id, outcome) as n
      from tasks where journey_id = $1 and ($2 = 0 or version = $2) and created_at >= $3) t
group by t.version, t.step_id
order by 1, 2 desc, 4 desc, 3`
)
