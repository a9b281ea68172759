package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Send is one email sent to a lead.
type Send struct {
	Key       string
	LeadID    string
	JourneyID string
	Version   int
	StepID    string
	ContentID string
	To        string
	Subject   string
	MessageID string
	Cost      float64
}

// Errors SendOnce returns instead of delivering.
var (
	// ErrAlreadySent: a send with the same key went out before.
	ErrAlreadySent = errors.New("already sent")
	// ErrUnconfirmed: an earlier attempt claimed the send and died during
	// the SMTP conversation; whether the message went out is unknown, and
	// it is not sent again, so no lead is mailed twice.
	ErrUnconfirmed = errors.New("an earlier attempt died mid-send; not sending again")
)

// SendOnce delivers a message at most once per s.Key. It claims the key in
// its own committed transaction, delivers, and records the outcome; a
// delivery error releases the claim (status failed) so a retry may send.
func SendOnce(ctx context.Context, db DB, s Send, deliver func() error) error {
	if err := claim(ctx, db, s); err != nil {
		return err
	}
	derr := deliver()
	// The outcome is recorded even if the activity was cancelled meanwhile:
	// a delivered message must never look unsent.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if derr != nil {
		if _, err := db.Exec(rctx, `update sends set status = 'failed', error = $2 where idempotency_key = $1`, s.Key, derr.Error()); err != nil {
			return errors.Join(derr, fmt.Errorf("release send %s: %w", s.Key, err))
		}
		return derr
	}
	if _, err := db.Exec(rctx, `update sends set status = 'sent', error = '', sent_at = now() where idempotency_key = $1`, s.Key); err != nil {
		return fmt.Errorf("record send %s: %w", s.Key, err)
	}
	return nil
}

func claim(ctx context.Context, db DB, s Send) error {
	tag, err := db.Exec(ctx, `
insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
on conflict (idempotency_key) do update set status = 'sending', claimed_at = now(), subject = excluded.subject
    where sends.status = 'failed'`,
		s.Key, s.LeadID, s.JourneyID, s.Version, s.StepID, s.ContentID, s.To, s.Subject, s.MessageID, s.Cost)
	if err != nil {
		return fmt.Errorf("claim send %s: %w", s.Key, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var status string
	if err := db.QueryRow(ctx, `select status from sends where idempotency_key = $1`, s.Key).Scan(&status); err != nil {
		return fmt.Errorf("read send %s: %w", s.Key, err)
	}
	if status == "sent" {
		return ErrAlreadySent
	}
	return ErrUnconfirmed
}

// SendStatus reads a send's status: sending, sent or failed.
func SendStatus(ctx context.Context, db DB, key string) (string, error) {
	var status string
	err := db.QueryRow(ctx, `select status from sends where idempotency_key = $1`, key).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("send %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read send %s: %w", key, err)
	}
	return status, nil
}

// CountSends counts the journey emails sent to a lead: content, not the
// hand-off notices and task mails that name the lead but go to sales.
func CountSends(ctx context.Context, db DB, leadID string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `select count(*) from sends where lead_id = $1 and status = 'sent' and content_id not in ('sales-handoff', 'task')`, leadID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sends of lead %s: %w", leadID, err)
	}
	return n, nil
}

// IsSuppressed reports whether an address may not be mailed, and why.
func IsSuppressed(ctx context.Context, db DB, email string) (string, bool, error) {
	var reason string
	err := db.QueryRow(ctx, `select reason from suppressions where email = $1`, email).Scan(&reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("check suppression of %s: %w", email, err)
	}
	return reason, true, nil
}

// Suppress stops all mail to an address; the first reason is kept.
func Suppress(ctx context.Context, db DB, email, reason string) error {
	_, err := db.Exec(ctx, `insert into suppressions (email, reason) values ($1, $2) on conflict (email) do nothing`, email, reason)
	if err != nil {
		return fmt.Errorf("suppress %s: %w", email, err)
	}
	return nil
}
