package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/scoring"
)

// Snapshot is a lead's score and position at one moment, with why it changed.
type Snapshot struct {
	// Kind is what happened; Reason says it in words.
	Kind progress.Kind
	// Step is the journey step the lead is at.
	Step   string
	LeadID string
	// Enrollment and Seq identify the snapshot: the workflow numbers its
	// writes, and carries the number across continue-as-new.
	Enrollment  string
	Seq         int
	JourneyID   string
	Version     int
	Score       scoring.Score
	Lifecycle   string
	BuyingStage string
	// Ended is true when the journey is over (SQL, disqualified, exited);
	// ExitReason says why it ended, if it did not end with a verdict.
	Ended      bool
	ExitReason string
	Reason     string
	At         time.Time
}

// RecordProgress stores a score snapshot and brings the lead row up to date,
// in one transaction.
//
// The workflow writes progress from local activities, which run inside a
// workflow task. When that task is lost (a Temporal restart, a worker
// killed before it reported), the task runs again, possibly with signals
// batched differently, and writes the same sequence numbers with other
// content, or fewer of them. So a write replaces the snapshot of the same
// number and drops any of the enrolment numbered above it (those came from
// the lost task, and the workflow's state no longer contains them), and
// the lead row always takes the write it is given for the enrolment it
// follows. A write of another enrolment moves the row only if it is not
// older than what the row shows, so a late write of a finished enrolment
// cannot overwrite the next one.
func RecordProgress(ctx context.Context, db DB, s Snapshot) error {
	var endedAt *time.Time
	if s.Ended {
		endedAt = &s.At
	}
	// One statement, so one round trip and one implicit transaction: the
	// snapshot and the lead row change together or not at all.
	_, err := db.Exec(ctx, `
with superseded as (
    delete from score_snapshots where lead_id = $1 and enrollment = $2 and seq > $3
), snapshot as (
    insert into score_snapshots (lead_id, enrollment, seq, journey_id, version, total, interest, intent, adjusted, breakdown, lifecycle, buying_stage, reason, at,
        fit, fit_grade, engagement_grade, kind, step, exit_reason)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $20, $21, $18)
    on conflict (lead_id, enrollment, seq) do update set journey_id = excluded.journey_id, version = excluded.version, total = excluded.total,
        interest = excluded.interest, intent = excluded.intent, adjusted = excluded.adjusted, breakdown = excluded.breakdown,
        lifecycle = excluded.lifecycle, buying_stage = excluded.buying_stage, reason = excluded.reason, at = excluded.at,
        fit = excluded.fit, fit_grade = excluded.fit_grade, engagement_grade = excluded.engagement_grade, kind = excluded.kind, step = excluded.step,
        exit_reason = excluded.exit_reason
)
update leads set score = $6, lifecycle = $11, buying_stage = $12, journey_id = $4, journey_version = $5, exit_reason = $18, ended_at = $19,
    progress_enrollment = $2, progress_seq = $3, progress_at = $14, updated_at = now()
where id = $1 and (progress_enrollment is null or progress_enrollment = $2 or progress_at <= $14)`,
		s.LeadID, s.Enrollment, s.Seq, s.JourneyID, s.Version, s.Score.Total(), s.Score.Interest, s.Score.Intent, s.Score.Adjusted, breakdown(s.Score),
		s.Lifecycle, s.BuyingStage, s.Reason, s.At, s.Score.Fit, s.Score.FitGrade, s.Score.EngagementGrade, s.ExitReason, endedAt, string(s.Kind), s.Step)
	if err != nil {
		return fmt.Errorf("record progress of lead %s: %w", s.LeadID, err)
	}
	return nil
}

// LatestSnapshot loads a lead's newest score snapshot.
func LatestSnapshot(ctx context.Context, db DB, leadID string) (Snapshot, error) {
	s := Snapshot{LeadID: leadID}
	err := db.QueryRow(ctx, `
select journey_id, version, interest, intent, adjusted, fit, fit_grade, engagement_grade, breakdown, lifecycle, buying_stage, reason, at, kind, step
from score_snapshots where lead_id = $1 order by at desc, seq desc, id desc limit 1`, leadID).
		Scan(&s.JourneyID, &s.Version, &s.Score.Interest, &s.Score.Intent, &s.Score.Adjusted, &s.Score.Fit, &s.Score.FitGrade, &s.Score.EngagementGrade, &s.Score.Breakdown, &s.Lifecycle, &s.BuyingStage, &s.Reason, &s.At, &s.Kind, &s.Step)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("score of lead %s: %w", leadID, ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("load score of lead %s: %w", leadID, err)
	}
	return s, nil
}

// Handoff is a lead handed to sales.
type Handoff struct {
	ID        int64
	Key       string
	LeadID    string
	JourneyID string
	Version   int
	Score     scoring.Score
	// Total is the score at hand-off as stored; set when listing.
	Total  int
	Reason string
	// SalesEmail is the hand-off's owner, where its notice goes; Team the
	// team it was routed to in turn, if it was.
	SalesEmail string
	Team       string
	Verdict    string
	CreatedAt  time.Time
}

// insertHandoffSQL records a hand-off unless its key is recorded already
// (then it returns no row).
const insertHandoffSQL = `
insert into handoffs (idempotency_key, lead_id, journey_id, version, score, breakdown, reason, sales_email, team)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
on conflict (idempotency_key) do nothing
returning id`

// InsertHandoff records a hand-off once per key and reports whether this
// call created it.
func InsertHandoff(ctx context.Context, db DB, h Handoff) (int64, bool, error) {
	var id int64
	err := db.QueryRow(ctx, insertHandoffSQL, h.Key, h.LeadID, h.JourneyID, h.Version, h.Score.Total(), breakdown(h.Score), h.Reason, h.SalesEmail, h.Team).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.QueryRow(ctx, `select id from handoffs where idempotency_key = $1`, h.Key).Scan(&id)
		if err != nil {
			return 0, false, fmt.Errorf("load hand-off %s: %w", h.Key, err)
		}
		return id, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record hand-off of lead %s: %w", h.LeadID, err)
	}
	return id, true, nil
}

// InsertRoutedHandoff records a hand-off once per key with its owner
// taken in turn from members, the team's turn counted in the same
// transaction: a retried or concurrent record of the same hand-off takes
// no turn and keeps the first owner. It returns the hand-off's ID and
// owner.
func InsertRoutedHandoff(ctx context.Context, db DB, h Handoff, members []string) (int64, string, error) {
	if len(members) == 0 {
		return 0, "", fmt.Errorf("route hand-off of lead %s: team %q has no members", h.LeadID, h.Team)
	}
	var id int64
	owner := ""
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var turns int64
		if err := tx.QueryRow(ctx, `
insert into routing_turns (journey_id, team, turns) values ($1, $2, 1)
on conflict (journey_id, team) do update set turns = routing_turns.turns + 1
returning turns`, h.JourneyID, h.Team).Scan(&turns); err != nil {
			return err
		}
		owner = members[(turns-1)%int64(len(members))]
		err := tx.QueryRow(ctx, insertHandoffSQL, h.Key, h.LeadID, h.JourneyID, h.Version, h.Score.Total(), breakdown(h.Score), h.Reason, owner, h.Team).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return errRecorded // undo the turn: the hand-off has its owner
		}
		return err
	})
	if errors.Is(err, errRecorded) {
		err = db.QueryRow(ctx, `select id, sales_email from handoffs where idempotency_key = $1`, h.Key).Scan(&id, &owner)
	}
	if err != nil {
		return 0, "", fmt.Errorf("record routed hand-off of lead %s: %w", h.LeadID, err)
	}
	return id, owner, nil
}

// errRecorded rolls back a routed hand-off's turn when the hand-off was
// recorded already.
var errRecorded = errors.New("hand-off recorded already")

// HandoffOwner is where a recorded hand-off's notice goes.
func HandoffOwner(ctx context.Context, db DB, id int64) (string, error) {
	var owner string
	if err := db.QueryRow(ctx, `select sales_email from handoffs where id = $1`, id).Scan(&owner); err != nil {
		return "", fmt.Errorf("load owner of hand-off %d: %w", id, err)
	}
	return owner, nil
}

// SetVerdict records sales' answer to a hand-off.
func SetVerdict(ctx context.Context, db DB, handoffID int64, verdict, reason, owner string) error {
	_, err := db.Exec(ctx, `update handoffs set verdict = $2, verdict_reason = $3, verdict_owner = $4, verdict_at = now() where id = $1`, handoffID, verdict, reason, owner)
	if err != nil {
		return fmt.Errorf("record verdict on hand-off %d: %w", handoffID, err)
	}
	return nil
}

// ListHandoffs lists a lead's hand-offs, oldest first.
func ListHandoffs(ctx context.Context, db DB, leadID string) ([]Handoff, error) {
	rows, err := db.Query(ctx, `
select id, idempotency_key, lead_id, journey_id, version, score, reason, sales_email, team, coalesce(verdict, ''), created_at
from handoffs where lead_id = $1 order by id`, leadID)
	if err != nil {
		return nil, fmt.Errorf("list hand-offs of lead %s: %w", leadID, err)
	}
	var out []Handoff
	for rows.Next() {
		var h Handoff
		if err := rows.Scan(&h.ID, &h.Key, &h.LeadID, &h.JourneyID, &h.Version, &h.Total, &h.Reason, &h.SalesEmail, &h.Team, &h.Verdict, &h.CreatedAt); err != nil {
			return nil, fmt.Errorf("list hand-offs of lead %s: %w", leadID, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SnapshotsSince lists the snapshots of some leads stored after id, oldest
// first: a feed for the demo's live output.
func SnapshotsSince(ctx context.Context, db DB, afterID int64, leadIDs []string) ([]Snapshot, int64, error) {
	rows, err := db.Query(ctx, `
select id, lead_id, journey_id, version, interest, intent, adjusted, fit, breakdown, lifecycle, buying_stage, reason, at, kind, step
from score_snapshots where id > $1 and lead_id = any($2) order by id`, afterID, leadIDs)
	if err != nil {
		return nil, afterID, fmt.Errorf("list score snapshots: %w", err)
	}
	defer rows.Close()
	var out []Snapshot
	for rows.Next() {
		var s Snapshot
		if err := rows.Scan(&afterID, &s.LeadID, &s.JourneyID, &s.Version, &s.Score.Interest, &s.Score.Intent, &s.Score.Adjusted,
			&s.Score.Fit, &s.Score.Breakdown, &s.Lifecycle, &s.BuyingStage, &s.Reason, &s.At, &s.Kind, &s.Step); err != nil {
			return nil, afterID, fmt.Errorf("list score snapshots: %w", err)
		}
		out = append(out, s)
	}
	return out, afterID, rows.Err()
}

// LastSnapshotID is the newest snapshot's ID, 0 when there is none.
func LastSnapshotID(ctx context.Context, db DB) (int64, error) {
	var id int64
	if err := db.QueryRow(ctx, `select coalesce(max(id), 0) from score_snapshots`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last score snapshot: %w", err)
	}
	return id, nil
}

// breakdown is never NULL in the database: a score with no lines yet is an
// empty list.
func breakdown(s scoring.Score) []scoring.Line {
	if s.Breakdown == nil {
		return []scoring.Line{}
	}
	return s.Breakdown
}
