package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrErased is returned for a lead whose personal data was erased: it is
// not enrolled again, takes no events and has no data key.
var ErrErased = errors.New("erased")

// LeadKey is a lead's data key as stored: wrapped by the payload key KeyID.
type LeadKey struct {
	KeyID   string
	Wrapped []byte
	// ErasedAt is set once the lead was erased; Wrapped is nil then.
	ErasedAt *time.Time
}

// GetLeadKey loads a lead's data key; ErrNotFound when it has none yet.
func GetLeadKey(ctx context.Context, db DB, leadID string) (LeadKey, error) {
	var k LeadKey
	err := db.QueryRow(ctx, `select key_id, wrapped, erased_at from lead_keys where lead_id = $1`, leadID).Scan(&k.KeyID, &k.Wrapped, &k.ErasedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, fmt.Errorf("data key of lead %s: %w", leadID, ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("load the data key of lead %s: %w", leadID, err)
	}
	return k, nil
}

// AddLeadKey stores a lead's data key unless it has one (or was erased),
// and returns the one stored: of two processes making a lead's first key
// at once, both use the one that got in first.
func AddLeadKey(ctx context.Context, db DB, leadID string, k LeadKey) (LeadKey, error) {
	_, err := db.Exec(ctx, `insert into lead_keys (lead_id, key_id, wrapped) values ($1, $2, $3) on conflict (lead_id) do nothing`, leadID, k.KeyID, k.Wrapped)
	if err != nil {
		return LeadKey{}, fmt.Errorf("store the data key of lead %s: %w", leadID, err)
	}
	return GetLeadKey(ctx, db, leadID)
}

// HasLeadKeys says whether any lead's data key is stored: the deployment
// encrypts lead data, and a process without the payload keys must not
// write it in plain text.
func HasLeadKeys(ctx context.Context, db DB) (bool, error) {
	var yes bool
	if err := db.QueryRow(ctx, `select exists (select 1 from lead_keys where wrapped is not null)`).Scan(&yes); err != nil {
		return false, fmt.Errorf("look for lead data keys: %w", err)
	}
	return yes, nil
}

// LeadKeysNotWrappedBy lists up to limit data keys wrapped by another key
// than keyID, after the lead ID afterID: those a rotation rewraps.
func LeadKeysNotWrappedBy(ctx context.Context, db DB, keyID, afterID string, limit int) (map[string]LeadKey, []string, error) {
	rows, err := db.Query(ctx, `select lead_id, key_id, wrapped from lead_keys
where wrapped is not null and key_id <> $1 and lead_id > $2 order by lead_id limit $3`, keyID, afterID, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("list data keys to rewrap: %w", err)
	}
	defer rows.Close()
	keys := map[string]LeadKey{}
	var order []string
	for rows.Next() {
		var id string
		var k LeadKey
		if err := rows.Scan(&id, &k.KeyID, &k.Wrapped); err != nil {
			return nil, nil, fmt.Errorf("list data keys to rewrap: %w", err)
		}
		keys[id] = k
		order = append(order, id)
	}
	return keys, order, rows.Err()
}

// RewrapLeadKey replaces a data key's wrapping, if it is still wrapped by
// the key it was read with (an erase in between wins).
func RewrapLeadKey(ctx context.Context, db DB, leadID, fromKeyID string, k LeadKey) (bool, error) {
	tag, err := db.Exec(ctx, `update lead_keys set key_id = $3, wrapped = $4 where lead_id = $1 and key_id = $2 and wrapped is not null`, leadID, fromKeyID, k.KeyID, k.Wrapped)
	if err != nil {
		return false, fmt.Errorf("rewrap the data key of lead %s: %w", leadID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Erasure is what EraseLead changed, counted.
type Erasure struct {
	LeadID string
	// Already is set when the lead had been erased before (nothing was
	// left to change in its row).
	Already bool
	Events  int64
	Sends   int64
	Tasks   int64
	// Suppressed is set when the address was on the suppression list: it
	// is taken off, since the erased lead's ID, which stays, keeps the
	// address out for good.
	Suppressed bool
}

// EraseLead removes a lead's personal data, in one transaction: its
// profile (address, names, company, title, fields, CRM ID), its events'
// details, the addresses, subjects, kept copies and SMTP replies of its
// emails, its tasks' titles and notes, sales' free-text verdict reasons,
// the CRM's answers, the reasons of its score history, its suppression
// entry, and its data key. What remains is what reports count — the lead's ID,
// lifecycle, stage, score, its sends' dates, costs and statuses, its
// hand-offs and score history — and none of it names the person. The lead
// ID is a name-based UUID of the address: whoever already knows the
// address can tell it was here, nobody can read the address from it; and
// an erased lead is never enrolled again (ErrErased).
//
// lifecycle and exitReason are what the lead's row shows if its journey
// was still running.
func EraseLead(ctx context.Context, db DB, leadID, lifecycle, exitReason string) (Erasure, error) {
	e := Erasure{LeadID: leadID}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var email string
		var erased *time.Time
		err := tx.QueryRow(ctx, `select email, erased_at from leads where id = $1 for update`, leadID).Scan(&email, &erased)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lead %s: %w", leadID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		e.Already = erased != nil
		tag, err := tx.Exec(ctx, `delete from suppressions where email = $1`, email)
		if err != nil {
			return err
		}
		e.Suppressed = tag.RowsAffected() > 0
		if _, err := tx.Exec(ctx, `update leads set email = 'erased:' || id, first_name = '', last_name = '', company = '', title = '',
    time_zone = '', source = '', fields = '{}', external_id = null, pending_journey = null, pending_stage = '', pending_since = null,
    lifecycle = case when ended_at is null then $2 else lifecycle end,
    exit_reason = case when ended_at is null then $3 else exit_reason end,
    ended_at = coalesce(ended_at, now()), erased_at = coalesce(erased_at, now()), updated_at = now()
where id = $1`, leadID, lifecycle, exitReason); err != nil {
			return err
		}
		counts := []struct {
			n *int64
			q string
		}{
			{&e.Events, `update events set properties = '{}' where lead_id = $1 and properties <> '{}'`},
			// The SMTP server's words (error, resolution) may quote the
			// address.
			{&e.Sends, `update sends set to_address = '', subject = '', raw_message = null, error = '', resolution = ''
where lead_id = $1 and (to_address <> '' or subject <> '' or raw_message is not null or error <> '' or resolution <> '')`},
			// A task's title is a template of the journey's: it may name
			// the lead ("Call {{.FirstName}} at {{.Company}}").
			{&e.Tasks, `update tasks set note = null, title = '' where lead_id = $1 and (note is not null or title <> '')`},
			{nil, `update handoffs set verdict_reason = null where lead_id = $1 and verdict_reason is not null`},
			// The CRM's answer may quote what it was sent.
			{nil, `update crm_posts set last_error = '' where handoff_id in (select id from handoffs where lead_id = $1) and last_error <> ''`},
			// A send's reserved slot names the recipient's domain (a
			// personal domain names the person); the key holds the lead.
			{nil, `delete from send_slots where send_key like 'lead-' || $1 || '/%'`},
			// A score's reason may carry an operator's words ("exited:
			// removed: asked by phone").
			{nil, `update score_snapshots set reason = kind where lead_id = $1 and reason <> kind`},
			{nil, `insert into lead_keys (lead_id, key_id, wrapped, erased_at) values ($1, '', null, now())
on conflict (lead_id) do update set wrapped = null, erased_at = coalesce(lead_keys.erased_at, now())`},
		}
		for _, c := range counts {
			tag, err := tx.Exec(ctx, c.q, leadID)
			if err != nil {
				return err
			}
			if c.n != nil {
				*c.n = tag.RowsAffected()
			}
		}
		return nil
	})
	if err != nil {
		return e, fmt.Errorf("erase lead %s: %w", leadID, err)
	}
	return e, nil
}
