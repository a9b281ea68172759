package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CRMPost is a hand-off's post to the CRM, as its attempts left it.
type CRMPost struct {
	HandoffID   int64
	LeadID      string
	URL         string
	Attempts    int
	LastStatus  int
	LastError   string
	LastAttempt *time.Time
	DeliveredAt *time.Time
}

// RecordCRMAttempt counts an attempt to post a hand-off to the CRM: status
// is the CRM's HTTP status (0 when it did not answer), failure why it did
// not take the post ("" when it did).
func RecordCRMAttempt(ctx context.Context, db DB, handoffID int64, url string, status int, failure string) error {
	_, err := db.Exec(ctx, `
insert into crm_posts (handoff_id, url, attempts, last_status, last_error, last_attempt, delivered_at)
values ($1, $2, 1, $3, $4, now(), case when $4 = '' then now() end)
on conflict (handoff_id) do update set url = excluded.url, attempts = crm_posts.attempts + 1, last_status = excluded.last_status,
    last_error = excluded.last_error, last_attempt = now(), delivered_at = coalesce(crm_posts.delivered_at, excluded.delivered_at)`,
		handoffID, url, status, failure)
	if err != nil {
		return fmt.Errorf("record CRM post of hand-off %d: %w", handoffID, err)
	}
	return nil
}

// GetCRMPost loads a hand-off's CRM post.
func GetCRMPost(ctx context.Context, db DB, handoffID int64) (CRMPost, error) {
	var p CRMPost
	err := db.QueryRow(ctx, `
select c.handoff_id, h.lead_id, c.url, c.attempts, c.last_status, c.last_error, c.last_attempt, c.delivered_at
from crm_posts c join handoffs h on h.id = c.handoff_id where c.handoff_id = $1`, handoffID).
		Scan(&p.HandoffID, &p.LeadID, &p.URL, &p.Attempts, &p.LastStatus, &p.LastError, &p.LastAttempt, &p.DeliveredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("CRM post of hand-off %d: %w", handoffID, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("load CRM post of hand-off %d: %w", handoffID, err)
	}
	return p, nil
}

// FailingCRMPosts lists the hand-offs the CRM has not taken yet, the
// longest failing first.
func FailingCRMPosts(ctx context.Context, db DB, limit int) ([]CRMPost, error) {
	rows, err := db.Query(ctx, `
select c.handoff_id, h.lead_id, c.url, c.attempts, c.last_status, c.last_error, c.last_attempt, c.delivered_at
from crm_posts c join handoffs h on h.id = c.handoff_id
where c.delivered_at is null order by c.last_attempt limit $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list failing CRM posts: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CRMPost])
	if err != nil {
		return nil, fmt.Errorf("list failing CRM posts: %w", err)
	}
	return out, nil
}
