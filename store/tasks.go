package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Task is a piece of work for a person, like a phone call.
type Task struct {
	ID        int64
	Key       string
	LeadID    string
	JourneyID string
	Version   int
	StepID    string
	Title     string
	Assignee  string
	Cost      float64
	Outcomes  []string
	Outcome   string
	CreatedAt time.Time
}

// InsertTask records a task once per key and reports whether this call
// created it.
func InsertTask(ctx context.Context, db DB, t Task) (int64, bool, error) {
	var id int64
	err := db.QueryRow(ctx, `
insert into tasks (idempotency_key, lead_id, journey_id, version, step_id, title, assignee, cost, outcomes)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
on conflict (idempotency_key) do nothing
returning id`, t.Key, t.LeadID, t.JourneyID, t.Version, t.StepID, t.Title, t.Assignee, t.Cost, t.Outcomes).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		if err := db.QueryRow(ctx, `select id from tasks where idempotency_key = $1`, t.Key).Scan(&id); err != nil {
			return 0, false, fmt.Errorf("load task %s: %w", t.Key, err)
		}
		return id, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record task for lead %s: %w", t.LeadID, err)
	}
	return id, true, nil
}

// SetTaskOutcome records what came of a task; "timed_out" when nobody said.
func SetTaskOutcome(ctx context.Context, db DB, id int64, outcome, note string) error {
	_, err := db.Exec(ctx, `update tasks set outcome = $2, note = $3, done_at = now() where id = $1 and outcome is null`, id, outcome, note)
	if err != nil {
		return fmt.Errorf("record outcome of task %d: %w", id, err)
	}
	return nil
}

// OpenTask returns a lead's newest task that has no outcome yet.
func OpenTask(ctx context.Context, db DB, leadID string) (Task, error) {
	var t Task
	err := db.QueryRow(ctx, `
select id, idempotency_key, lead_id, journey_id, version, step_id, title, assignee, cost::float8, outcomes, created_at
from tasks where lead_id = $1 and outcome is null order by id desc limit 1`, leadID).
		Scan(&t.ID, &t.Key, &t.LeadID, &t.JourneyID, &t.Version, &t.StepID, &t.Title, &t.Assignee, &t.Cost, &t.Outcomes, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("open task of lead %s: %w", leadID, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("load open task of lead %s: %w", leadID, err)
	}
	return t, nil
}
