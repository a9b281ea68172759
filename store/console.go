package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// The reads behind the console's pages. Each reads one page of rows in an
// indexed order (migration 009), so a page costs the same with a hundred
// leads as with a million.

// TimelineKind is what a timeline item records.
type TimelineKind string

// What a lead's timeline holds.
const (
	TimelineMail     TimelineKind = "mail"
	TimelineEvent    TimelineKind = "event"
	TimelineProgress TimelineKind = "progress"
	TimelineTask     TimelineKind = "task"
	TimelineOutcome  TimelineKind = "outcome"
	TimelineHandoff  TimelineKind = "handoff"
	TimelineVerdict  TimelineKind = "verdict"
)

// TimelineItem is one thing that happened to a lead.
type TimelineItem struct {
	At   time.Time
	Kind TimelineKind
	// What is the item's kind in detail: a send's status, an event's
	// type, a progress record's kind, a verdict.
	What string
	// Text says it: a subject, a reason, a task's title.
	Text string
	// Detail adds what else there is: the content an event is about, a
	// stage and lifecycle, a note.
	Detail string
	// Score is the score a progress record or hand-off gave (0 otherwise).
	Score int
}

// LeadTimeline lists what happened to a lead, newest first, at most limit
// items: sends, events, progress records, tasks and their outcomes,
// hand-offs and their verdicts.
func LeadTimeline(ctx context.Context, db DB, leadID string, limit int) ([]TimelineItem, error) {
	rows, err := db.Query(ctx, `
(select coalesce(sent_at, claimed_at) as at, 'mail' as kind, status as what, subject as text, content_id as detail, 0 as score
 from sends where lead_id = $1 order by at desc limit $2)
union all
(select occurred_at, 'event', type, coalesce(properties->>'content', ''), coalesce(properties->>'url', ''), 0
 from events where lead_id = $1 order by occurred_at desc limit $2)
union all
(select at, 'progress', kind, reason, buying_stage || ' · ' || lifecycle, total
 from score_snapshots where lead_id = $1 order by id desc limit $2)
union all
(select created_at, 'task', step_id, title, assignee, 0 from tasks where lead_id = $1 order by id desc limit $2)
union all
(select done_at, 'outcome', outcome, title, coalesce(note, ''), 0 from tasks where lead_id = $1 and done_at is not null order by id desc limit $2)
union all
(select created_at, 'handoff', '', reason, sales_email, score from handoffs where lead_id = $1 order by id desc limit $2)
union all
(select verdict_at, 'verdict', verdict, coalesce(verdict_reason, ''), '', 0 from handoffs where lead_id = $1 and verdict_at is not null order by id desc limit $2)
order by at desc limit $2`, leadID, limit)
	if err != nil {
		return nil, fmt.Errorf("timeline of lead %s: %w", leadID, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TimelineItem, error) {
		var it TimelineItem
		err := row.Scan(&it.At, &it.Kind, &it.What, &it.Text, &it.Detail, &it.Score)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("timeline of lead %s: %w", leadID, err)
	}
	return items, nil
}

// Waiting is a hand-off waiting for sales' verdict, with what sales needs
// to make the call.
type Waiting struct {
	Handoff Handoff
	Lead    LeadRow
	// Breakdown is the score's breakdown at hand-off.
	Breakdown []scoring.Line
	// Recent is the lead's latest engagement, newest first.
	Recent []lead.Event
}

// WaitingHandoffs lists hand-offs without a verdict, newest first, those
// before beforeID when it is not 0, with their leads and each lead's
// recent events (at most recent).
func WaitingHandoffs(ctx context.Context, db DB, beforeID int64, limit, recent int) ([]Waiting, error) {
	rows, err := db.Query(ctx, `
select h.id, h.idempotency_key, h.lead_id, h.journey_id, h.version, h.score, h.breakdown, h.reason, h.sales_email, h.created_at,
    l.*
from handoffs h cross join lateral (select `+leadColumns+` from leads where id = h.lead_id) l
where h.verdict is null and ($1 = 0 or h.id < $1)
order by h.id desc limit $2`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list hand-offs waiting for sales: %w", err)
	}
	var out []Waiting
	byLead := map[string][]int{}
	for rows.Next() {
		var w Waiting
		h := &w.Handoff
		dest := append([]any{&h.ID, &h.Key, &h.LeadID, &h.JourneyID, &h.Version, &h.Total, &w.Breakdown, &h.Reason, &h.SalesEmail, &h.CreatedAt},
			leadDest(&w.Lead)...)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list hand-offs waiting for sales: %w", err)
		}
		byLead[h.LeadID] = append(byLead[h.LeadID], len(out))
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hand-offs waiting for sales: %w", err)
	}
	if len(out) == 0 || recent <= 0 {
		return out, nil
	}
	ids := make([]string, 0, len(byLead))
	for id := range byLead {
		ids = append(ids, id)
	}
	evs, err := RecentEvents(ctx, db, ids, recent)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		for _, i := range byLead[ev.LeadID] {
			out[i].Recent = append(out[i].Recent, ev)
		}
	}
	return out, nil
}

// RecentEvents lists each lead's newest events, at most n a lead, newest
// first; one index range a lead.
func RecentEvents(ctx context.Context, db DB, leadIDs []string, n int) ([]lead.Event, error) {
	rows, err := db.Query(ctx, `
select e.id, ids.id, e.type, e.occurred_at, e.source, e.properties
from unnest($1::text[]) as ids(id) cross join lateral (
    select id, type, occurred_at, source, properties from events where lead_id = ids.id order by occurred_at desc limit $2
) e
order by ids.id, e.occurred_at desc`, leadIDs, n)
	if err != nil {
		return nil, fmt.Errorf("recent events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lead.Event, error) {
		var ev lead.Event
		err := row.Scan(&ev.ID, &ev.LeadID, &ev.Type, &ev.OccurredAt, &ev.Source, &ev.Properties)
		return ev, err
	})
	if err != nil {
		return nil, fmt.Errorf("recent events: %w", err)
	}
	return evs, nil
}

// TaskWaiting is a task nobody has said the outcome of, with its lead.
type TaskWaiting struct {
	Task Task
	Lead LeadRow
}

// WaitingTasks lists tasks without an outcome, newest first, those before
// beforeID when it is not 0.
func WaitingTasks(ctx context.Context, db DB, beforeID int64, limit int) ([]TaskWaiting, error) {
	rows, err := db.Query(ctx, `
select t.id, t.idempotency_key, t.lead_id, t.journey_id, t.version, t.step_id, t.title, t.assignee, t.cost::float8, t.outcomes, t.created_at,
    l.*
from tasks t cross join lateral (select `+leadColumns+` from leads where id = t.lead_id) l
where t.outcome is null and ($1 = 0 or t.id < $1)
order by t.id desc limit $2`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list open tasks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TaskWaiting, error) {
		var o TaskWaiting
		t := &o.Task
		err := row.Scan(append([]any{&t.ID, &t.Key, &t.LeadID, &t.JourneyID, &t.Version, &t.StepID, &t.Title, &t.Assignee, &t.Cost, &t.Outcomes, &t.CreatedAt},
			leadDest(&o.Lead)...)...)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list open tasks: %w", err)
	}
	return out, nil
}

// Suppression is an address no journey mails.
type Suppression struct {
	Email     string
	Reason    string
	CreatedAt time.Time
}

// maxSuppressionCount is where the count of suppressed addresses stops:
// a page says "10000+" rather than count a million rows.
const maxSuppressionCount = 10000

// ListSuppressions lists suppressed addresses, newest first, at most
// limit, and how many there are in all, up to maxSuppressionCount (more
// says there are more than that).
func ListSuppressions(ctx context.Context, db DB, limit int) (list []Suppression, total int, more bool, err error) {
	if err := db.QueryRow(ctx, `select count(*) from (select 1 from suppressions limit $1) s`, maxSuppressionCount+1).Scan(&total); err != nil {
		return nil, 0, false, fmt.Errorf("count suppressions: %w", err)
	}
	if total > maxSuppressionCount {
		total, more = maxSuppressionCount, true
	}
	rows, err := db.Query(ctx, `select email, reason, created_at from suppressions order by created_at desc, email limit $1`, limit)
	if err != nil {
		return nil, 0, false, fmt.Errorf("list suppressions: %w", err)
	}
	list, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Suppression])
	if err != nil {
		return nil, 0, false, fmt.Errorf("list suppressions: %w", err)
	}
	return list, total, more, nil
}
