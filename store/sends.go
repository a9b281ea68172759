package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nurture-dev/nurture/lead"
)

// Send is one email sent to a lead (or about a lead, to sales).
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

// SendStatus is how far a send got. A send moves
//
//	claimed → connected → data → sent
//
// and ends failed (not delivered; a retry may claim it again), rejected
// (refused for good) or ambiguous (its message went out and the reply never
// came: it may or may not have been delivered).
type SendStatus string

// Send statuses.
const (
	SendClaimed   SendStatus = "claimed"
	SendConnected SendStatus = "connected"
	// SendData is stored just before the message's final dot goes out;
	// from then on the server may accept it at any moment.
	SendData      SendStatus = "data"
	SendSent      SendStatus = "sent"
	SendFailed    SendStatus = "failed"
	SendRejected  SendStatus = "rejected"
	SendAmbiguous SendStatus = "ambiguous"
)

// retryable lists the statuses a new attempt may claim again: nothing of
// the message has left, or the server said no for now.
var retryable = []SendStatus{SendClaimed, SendConnected, SendFailed}

// Errors ClaimSend returns instead of a claim.
var (
	// ErrAlreadySent: a send with the same key was accepted before.
	ErrAlreadySent = errors.New("already sent")
	// ErrAmbiguous: an earlier attempt transmitted the message and never
	// learned the server's answer; it is not sent again on its own.
	ErrAmbiguous = errors.New("an earlier attempt transmitted the message and its reply was lost; not sending again")
	// ErrRejected: the server refused the message for good before.
	ErrRejected = errors.New("the server refused this message for good")
	// ErrClaimLost: another attempt claimed the send meanwhile.
	ErrClaimLost = errors.New("another attempt holds this send")
)

// ClaimSend claims a send for one attempt, named by token. It inserts the
// row, or takes it over from an earlier attempt that got no further than
// connecting (or failed). A send an earlier attempt left at data becomes
// ambiguous here: that attempt died between transmitting and the reply.
func ClaimSend(ctx context.Context, db DB, s Send, token string) error {
	var status SendStatus
	err := db.QueryRow(ctx, `
insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost, status, claim_token)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'claimed', $11)
on conflict (idempotency_key) do update set status = 'claimed', claim_token = excluded.claim_token, claimed_at = now(),
    subject = excluded.subject, error = '', connected_at = null
    where sends.status = any($12)
returning status`,
		s.Key, s.LeadID, s.JourneyID, s.Version, s.StepID, s.ContentID, s.To, s.Subject, s.MessageID, s.Cost, token, retryable).Scan(&status)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("claim send %s: %w", s.Key, err)
	}
	if err := db.QueryRow(ctx, `select status from sends where idempotency_key = $1`, s.Key).Scan(&status); err != nil {
		return fmt.Errorf("read send %s: %w", s.Key, err)
	}
	switch status {
	case SendSent:
		return ErrAlreadySent
	case SendRejected:
		return ErrRejected
	case SendData:
		if _, err := db.Exec(ctx, `update sends set status = 'ambiguous', error = $2 where idempotency_key = $1 and status = 'data'`,
			s.Key, "the attempt that transmitted it stopped before the server's reply was recorded"); err != nil {
			return fmt.Errorf("mark send %s ambiguous: %w", s.Key, err)
		}
		return ErrAmbiguous
	case SendAmbiguous:
		return ErrAmbiguous
	}
	// Claimed by a concurrent attempt between our insert and read.
	return ErrClaimLost
}

// AdvanceSend moves a claimed send on, if token still holds it and it is
// in one of the from statuses. ErrClaimLost means it moved without us: the
// caller must stop before the message goes out.
func AdvanceSend(ctx context.Context, db DB, key, token string, to SendStatus, detail string, from ...SendStatus) error {
	var stamp string
	switch to {
	case SendConnected:
		stamp = ", connected_at = now()"
	case SendData:
		stamp = ", data_at = now()"
	case SendSent:
		stamp = ", sent_at = now()"
	}
	tag, err := db.Exec(ctx, `update sends set status = $3, error = $4`+stamp+`
where idempotency_key = $1 and claim_token = $2 and status = any($5)`, key, token, to, detail, from)
	if err != nil {
		return fmt.Errorf("record send %s as %s: %w", key, to, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record send %s as %s: %w", key, to, ErrClaimLost)
	}
	return nil
}

// KeepMessage stores the message an ambiguous send transmitted, so it can
// be sent again exactly as it was.
func KeepMessage(ctx context.Context, db DB, key string, raw []byte) error {
	if _, err := db.Exec(ctx, `update sends set raw_message = $2 where idempotency_key = $1 and raw_message is null`, key, raw); err != nil {
		return fmt.Errorf("keep message of send %s: %w", key, err)
	}
	return nil
}

// GetSendStatus reads a send's status.
func GetSendStatus(ctx context.Context, db DB, key string) (SendStatus, error) {
	var status SendStatus
	err := db.QueryRow(ctx, `select status from sends where idempotency_key = $1`, key).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("send %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read send %s: %w", key, err)
	}
	return status, nil
}

// SendRow is a send as operators see it.
type SendRow struct {
	Send
	Status     SendStatus
	Error      string
	ClaimedAt  time.Time
	DataAt     *time.Time
	Resolution string
	HasMessage bool
	Raw        []byte
}

// ListSends lists sends with one of the statuses (all when none), of one
// lead when leadID is set, oldest first, at most limit.
func ListSends(ctx context.Context, db DB, leadID string, limit int, statuses ...SendStatus) ([]SendRow, error) {
	rows, err := db.Query(ctx, `
select idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost::float8,
    status, error, claimed_at, data_at, resolution, raw_message is not null
from sends
where ($1 = '' or lead_id = $1) and (coalesce(cardinality($2::text[]), 0) = 0 or status = any($2))
order by claimed_at, idempotency_key limit $3`, leadID, statuses, limit)
	if err != nil {
		return nil, fmt.Errorf("list sends: %w", err)
	}
	defer rows.Close()
	var out []SendRow
	for rows.Next() {
		var r SendRow
		if err := rows.Scan(&r.Key, &r.LeadID, &r.JourneyID, &r.Version, &r.StepID, &r.ContentID, &r.To, &r.Subject, &r.MessageID, &r.Cost,
			&r.Status, &r.Error, &r.ClaimedAt, &r.DataAt, &r.Resolution, &r.HasMessage); err != nil {
			return nil, fmt.Errorf("list sends: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetSend loads one send with its kept message.
func GetSend(ctx context.Context, db DB, key string) (SendRow, error) {
	var r SendRow
	err := db.QueryRow(ctx, `
select idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost::float8,
    status, error, claimed_at, data_at, resolution, raw_message is not null, coalesce(raw_message, '')
from sends where idempotency_key = $1`, key).Scan(&r.Key, &r.LeadID, &r.JourneyID, &r.Version, &r.StepID, &r.ContentID, &r.To, &r.Subject, &r.MessageID, &r.Cost,
		&r.Status, &r.Error, &r.ClaimedAt, &r.DataAt, &r.Resolution, &r.HasMessage, &r.Raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("send %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("load send %s: %w", key, err)
	}
	return r, nil
}

// CountSendsByStatus counts a lead's sends (all leads when leadID is
// empty) per status.
func CountSendsByStatus(ctx context.Context, db DB, leadID string) (map[SendStatus]int, error) {
	rows, err := db.Query(ctx, `select status, count(*) from sends where $1 = '' or lead_id = $1 group by status`, leadID)
	if err != nil {
		return nil, fmt.Errorf("count sends: %w", err)
	}
	defer rows.Close()
	out := map[SendStatus]int{}
	for rows.Next() {
		var s SendStatus
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count sends: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// ResolveSent records an operator's finding that an ambiguous send was
// delivered after all (the lead replied to it, the server's log shows it).
func ResolveSent(ctx context.Context, db DB, key, note string) error {
	tag, err := db.Exec(ctx, `update sends set status = 'sent', sent_at = coalesce(sent_at, data_at, now()), resolution = $2, resolved_at = now()
where idempotency_key = $1 and status in ('ambiguous', 'data')`, key, note)
	if err != nil {
		return fmt.Errorf("resolve send %s: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("send %s is not ambiguous (only an ambiguous send, or one stuck at data, can be marked sent)", key)
	}
	return nil
}

// ReclaimAmbiguous claims an ambiguous send for an operator's resend, with
// the note saying who asked.
func ReclaimAmbiguous(ctx context.Context, db DB, key, token, note string) error {
	tag, err := db.Exec(ctx, `update sends set status = 'claimed', claim_token = $2, claimed_at = now(), connected_at = null, resolution = $3, resolved_at = now()
where idempotency_key = $1 and status = 'ambiguous'`, key, token, note)
	if err != nil {
		return fmt.Errorf("claim send %s for a resend: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("send %s is not ambiguous (only an ambiguous send can be sent again)", key)
	}
	return nil
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

// IsSuppressed reports whether an address may not be mailed, and why: it
// is on the suppression list, or its lead was erased ("erased": a send
// already queued when the lead was erased goes nowhere).
func IsSuppressed(ctx context.Context, db DB, email string) (string, bool, error) {
	var reason string
	err := db.QueryRow(ctx, `select reason from suppressions where email = $1
union all select 'erased' from leads where id = $2 and erased_at is not null
limit 1`, email, lead.IDForEmail(email)).Scan(&reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("check suppression of %s: %w", email, err)
	}
	return reason, true, nil
}

// Suppress stops all mail to an address; the first reason is kept. The
// address of an erased lead is not written back (a late bounce from the
// provider would): nothing is mailed to it anyway (see EraseLead).
func Suppress(ctx context.Context, db DB, email, reason string) error {
	_, err := db.Exec(ctx, `insert into suppressions (email, reason)
select $1, $2 where not exists (select 1 from leads where id = $3 and erased_at is not null)
on conflict (email) do nothing`, email, reason, lead.IDForEmail(email))
	if err != nil {
		return fmt.Errorf("suppress %s: %w", email, err)
	}
	return nil
}

// MarkProviderDelivered records the email provider's word that the
// message of a send was delivered. An ambiguous send is settled by it: it
// arrived.
func MarkProviderDelivered(ctx context.Context, db DB, key string) (bool, error) {
	tag, err := db.Exec(ctx, `update sends set delivered_at = coalesce(delivered_at, now()),
    status = case when status in ('ambiguous', 'data') then 'sent' else status end,
    sent_at = case when status in ('ambiguous', 'data') then coalesce(sent_at, now()) else sent_at end,
    resolution = case when status in ('ambiguous', 'data') then 'the email provider reported it delivered' else resolution end
where idempotency_key = $1`, key)
	if err != nil {
		return false, fmt.Errorf("mark send %s delivered: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}
