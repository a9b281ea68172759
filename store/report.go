package store

import (
	"context"
	"fmt"
	"slices"
	"time"
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
	Exits    []ExitCount `json:"exits"`
	MQL      int         `json:"mql"`
	Handoffs int         `json:"handoffs"`
	// Verdicts by kind: accepted, rejected, recycle; Waiting are hand-offs
	// without one.
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
}

// ExitCount is how many left from a stage for a reason.
type ExitCount struct {
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
	Leads  int    `json:"leads"`
}

// Touchpoint is a content item's or a task step's numbers.
type Touchpoint struct {
	// Kind is content or task; ID the content item or the task's step.
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
// PostgreSQL.
func Reports(ctx context.Context, db DB, f ReportFilter) ([]Report, error) {
	if f.AssistWindow <= 0 {
		f.AssistWindow = 30 * 24 * time.Hour
	}
	rows, err := db.Query(ctx, `
with entries as (
    select lead_id, enrollment, version, min(at) as entered
    from score_snapshots
    where journey_id = $1 and ($2 = 0 or version = $2)
    group by lead_id, enrollment, version
    having min(at) >= $3
), firsts as (
    select distinct on (s.lead_id, s.enrollment, s.version) s.version, s.buying_stage
    from score_snapshots s join entries e using (lead_id, enrollment, version)
    where s.journey_id = $1 and s.kind = 'stage'
    order by s.lead_id, s.enrollment, s.version, s.id
), reached as (
    select s.version, s.buying_stage, count(distinct (s.lead_id, s.enrollment)) as n, min(s.id) as first_id
    from score_snapshots s join entries e using (lead_id, enrollment, version)
    where s.journey_id = $1 and s.kind = 'stage'
    group by s.version, s.buying_stage
)
select r.version, r.buying_stage, r.n, (select count(*) from firsts f where f.version = r.version and f.buying_stage = r.buying_stage)
from reached r
left join lateral (
    select o.ord from journey_versions jv, jsonb_array_elements(jv.definition->'stages') with ordinality as o(stage, ord)
    where jv.journey_id = $1 and jv.version = r.version and o.stage->>'id' = r.buying_stage
) pos on true
order by r.version desc, pos.ord nulls last, r.first_id`, f.JourneyID, f.Version, f.Since)
	if err != nil {
		return nil, fmt.Errorf("report on %s: stages: %w", f.JourneyID, err)
	}
	byVersion := map[int]*Report{}
	var order []int
	get := func(v int) *Report {
		r, ok := byVersion[v]
		if !ok {
			r = &Report{JourneyID: f.JourneyID, Version: v, Verdicts: map[string]int{}}
			byVersion[v] = r
			order = append(order, v)
		}
		return r
	}
	for rows.Next() {
		var v int
		var sc StageCount
		if err := rows.Scan(&v, &sc.Stage, &sc.Reached, &sc.EnteredHere); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report on %s: stages: %w", f.JourneyID, err)
		}
		get(v).Stages = append(get(v).Stages, sc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report on %s: stages: %w", f.JourneyID, err)
	}

	// One row per version: leads, MQL, hand-offs, medians.
	rows, err = db.Query(ctx, `
with entries as (
    select lead_id, enrollment, version, min(at) as entered
    from score_snapshots
    where journey_id = $1 and ($2 = 0 or version = $2)
    group by lead_id, enrollment, version
    having min(at) >= $3
), marks as (
    select s.lead_id, s.enrollment, s.version,
        min(s.at) filter (where s.lifecycle = 'mql') as mql_at,
        min(s.at) filter (where s.kind = 'handed_off') as handoff_at
    from score_snapshots s join entries e using (lead_id, enrollment, version)
    where s.journey_id = $1
    group by s.lead_id, s.enrollment, s.version
)
select e.version, count(*), count(m.mql_at), count(m.handoff_at),
    percentile_cont(0.5) within group (order by extract(epoch from m.mql_at - e.entered)) filter (where m.mql_at is not null) / 86400,
    percentile_cont(0.5) within group (order by extract(epoch from m.handoff_at - e.entered)) filter (where m.handoff_at is not null) / 86400
from entries e join marks m using (lead_id, enrollment, version)
group by e.version`, f.JourneyID, f.Version, f.Since)
	if err != nil {
		return nil, fmt.Errorf("report on %s: funnel: %w", f.JourneyID, err)
	}
	for rows.Next() {
		var v, leads, mql, handoffs int
		var toMQL, toHandoff *float64
		if err := rows.Scan(&v, &leads, &mql, &handoffs, &toMQL, &toHandoff); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report on %s: funnel: %w", f.JourneyID, err)
		}
		r := get(v)
		r.Leads, r.MQL, r.DaysToMQL, r.DaysToHandoff = leads, mql, toMQL, toHandoff
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report on %s: funnel: %w", f.JourneyID, err)
	}

	// Exits by stage and reason.
	rows, err = db.Query(ctx, `
with entries as (
    select lead_id, enrollment, version from score_snapshots
    where journey_id = $1 and ($2 = 0 or version = $2)
    group by lead_id, enrollment, version having min(at) >= $3
)
select s.version, s.buying_stage, s.exit_reason, count(distinct (s.lead_id, s.enrollment))
from score_snapshots s join entries e using (lead_id, enrollment, version)
where s.journey_id = $1 and s.kind = 'exited'
group by s.version, s.buying_stage, s.exit_reason
order by s.version desc, 4 desc, 2, 3`, f.JourneyID, f.Version, f.Since)
	if err != nil {
		return nil, fmt.Errorf("report on %s: exits: %w", f.JourneyID, err)
	}
	for rows.Next() {
		var v int
		var e ExitCount
		if err := rows.Scan(&v, &e.Stage, &e.Reason, &e.Leads); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report on %s: exits: %w", f.JourneyID, err)
		}
		get(v).Exits = append(get(v).Exits, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report on %s: exits: %w", f.JourneyID, err)
	}

	// Hand-offs and verdicts, from the hand-offs sales answers.
	rows, err = db.Query(ctx, `
select version, coalesce(verdict, ''), count(*) from handoffs
where journey_id = $1 and ($2 = 0 or version = $2) and created_at >= $3
group by version, verdict`, f.JourneyID, f.Version, f.Since)
	if err != nil {
		return nil, fmt.Errorf("report on %s: hand-offs: %w", f.JourneyID, err)
	}
	for rows.Next() {
		var v, n int
		var verdict string
		if err := rows.Scan(&v, &verdict, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report on %s: hand-offs: %w", f.JourneyID, err)
		}
		r := get(v)
		r.Handoffs += n
		if verdict == "" {
			r.Waiting += n
		} else {
			r.Verdicts[verdict] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report on %s: hand-offs: %w", f.JourneyID, err)
	}

	// Touchpoints: content sent (opened, clicked by the lead it went to,
	// assisting hand-offs within the window) and tasks given.
	rows, err = db.Query(ctx, `
with sent as (
    select s.version, s.content_id, s.lead_id, s.sent_at, s.cost
    from sends s
    where s.journey_id = $1 and ($2 = 0 or s.version = $2) and s.claimed_at >= $3
        and s.status in ('sent', 'ambiguous') and s.content_id <> all($5)
), engaged as (
    select ev.lead_id, ev.properties->>'content' as content_id,
        bool_or(ev.type = 'email_open') as opened, bool_or(ev.type = 'email_click') as clicked
    from events ev
    where ev.type in ('email_open', 'email_click') and ev.properties ? 'content' and ev.occurred_at >= $3
    group by 1, 2
), assisted as (
    select distinct s.version, s.content_id, h.id
    from sent s join handoffs h on h.lead_id = s.lead_id and h.journey_id = $1
        and s.sent_at <= h.created_at and s.sent_at > h.created_at - make_interval(secs => $4)
)
select 'content', st.version, st.content_id, count(*), count(*) filter (where e.opened), count(*) filter (where e.clicked), coalesce(sum(st.cost), 0)::float8,
    (select count(*) from assisted a where a.version = st.version and a.content_id = st.content_id), '{}'::jsonb
from sent st left join engaged e on e.lead_id = st.lead_id and e.content_id = st.content_id
group by st.version, st.content_id
union all
select 'task', t.version, t.step_id, count(*), 0, 0, coalesce(sum(t.cost), 0)::float8, 0,
    coalesce(jsonb_object_agg(t.outcome, t.n) filter (where t.outcome is not null), '{}'::jsonb)
from (select version, step_id, cost, outcome, count(*) over (partition by version, step_id, outcome) as n
      from tasks where journey_id = $1 and ($2 = 0 or version = $2) and created_at >= $3) t
group by t.version, t.step_id
order by 1, 2 desc, 4 desc, 3`, f.JourneyID, f.Version, f.Since, f.AssistWindow.Seconds(), []string{NoticeHandoff, NoticeTask})
	if err != nil {
		return nil, fmt.Errorf("report on %s: touchpoints: %w", f.JourneyID, err)
	}
	for rows.Next() {
		var tp Touchpoint
		var v int
		if err := rows.Scan(&tp.Kind, &v, &tp.ID, &tp.Sent, &tp.Opened, &tp.Clicked, &tp.Cost, &tp.Assisted, &tp.Outcomes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report on %s: touchpoints: %w", f.JourneyID, err)
		}
		r := get(v)
		r.Touchpoints = append(r.Touchpoints, tp)
		r.Cost += tp.Cost
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report on %s: touchpoints: %w", f.JourneyID, err)
	}
	out := make([]Report, 0, len(order))
	for _, v := range order {
		out = append(out, *byVersion[v])
	}
	slices.SortFunc(out, func(a, b Report) int { return b.Version - a.Version })
	return out, nil
}
