package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// ErrAlreadySent says a send with the same idempotency key went out before.
var ErrAlreadySent = errors.New("already sent")

// SendOnce runs deliver only if no send with s.Key has been recorded, and
// records it in the same transaction. The row is inserted first, so a
// concurrent attempt with the same key waits on it and then finds it; if
// deliver fails the transaction rolls back and a retry may send. The one
// window for a duplicate is a crash between the SMTP server accepting the
// message and the commit; the stable Message-ID lets receivers fold that.
func SendOnce(ctx context.Context, db DB, s Send, deliver func() error) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
on conflict (idempotency_key) do nothing`,
			s.Key, s.LeadID, s.JourneyID, s.Version, s.StepID, s.ContentID, s.To, s.Subject, s.MessageID, s.Cost)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrAlreadySent
		}
		return deliver()
	})
	if errors.Is(err, ErrAlreadySent) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("record send %s: %w", s.Key, err)
	}
	return err
}

// CountSends counts the emails sent to a lead.
func CountSends(ctx context.Context, db DB, leadID string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `select count(*) from sends where lead_id = $1`, leadID).Scan(&n); err != nil {
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
