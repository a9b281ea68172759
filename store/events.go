package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nurture-dev/nurture/lead"
)

// InsertEvent stores an engagement event once: it reports false when an
// event with the same ID was stored before (a retried delivery).
func InsertEvent(ctx context.Context, db DB, ev lead.Event) (bool, error) {
	props := ev.Properties
	if props == nil {
		props = map[string]string{}
	}
	tag, err := db.Exec(ctx, `
insert into events (id, lead_id, type, occurred_at, source, properties)
values ($1, $2, $3, $4, $5, $6)
on conflict (lead_id, id) do nothing`,
		ev.ID, ev.LeadID, string(ev.Type), ev.OccurredAt, ev.Source, props)
	if err != nil {
		return false, fmt.Errorf("store event %s: %w", ev.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// StoreEvent stores an event for a lead nurture knows, in one round
// trip: it reports the lead's address (for suppression) and whether the
// event is new; ErrNotFound when there is no such lead, or (with
// ErrErased) when it was erased, and then nothing is stored.
func StoreEvent(ctx context.Context, db DB, ev lead.Event) (email string, isNew bool, err error) {
	props := ev.Properties
	if props == nil {
		props = map[string]string{}
	}
	var erased bool
	err = db.QueryRow(ctx, `
with l as (select id, email, erased_at is not null as erased from leads where id = $2),
ins as (
    insert into events (id, lead_id, type, occurred_at, source, properties)
    select $1, l.id, $3, $4, $5, $6 from l where not l.erased
    on conflict (lead_id, id) do nothing
    returning 1
)
select l.email, exists (select 1 from ins), l.erased from l`,
		ev.ID, ev.LeadID, string(ev.Type), ev.OccurredAt, ev.Source, props).Scan(&email, &isNew, &erased)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, fmt.Errorf("lead %s: %w", ev.LeadID, ErrNotFound)
	}
	if err != nil {
		return "", false, fmt.Errorf("store event %s: %w", ev.ID, err)
	}
	if erased {
		return "", false, erasedError(ev.LeadID)
	}
	return email, isNew, nil
}

// CountEvents counts a lead's stored events.
func CountEvents(ctx context.Context, db DB, leadID string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `select count(*) from events where lead_id = $1`, leadID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events of lead %s: %w", leadID, err)
	}
	return n, nil
}

// MarkUndelivered records that an event could not be delivered to its
// lead's journey now, for Reconcile to deliver it later.
func MarkUndelivered(ctx context.Context, db DB, leadID, eventID string) error {
	if _, err := db.Exec(ctx, `update events set undelivered_since = coalesce(undelivered_since, now()) where lead_id = $1 and id = $2`, leadID, eventID); err != nil {
		return fmt.Errorf("mark event %s undelivered: %w", eventID, err)
	}
	return nil
}

// MarkDelivered clears the mark once the event reached its journey, or
// once there is no journey left to reach.
func MarkDelivered(ctx context.Context, db DB, leadID, eventID string) error {
	if _, err := db.Exec(ctx, `update events set undelivered_since = null where lead_id = $1 and id = $2`, leadID, eventID); err != nil {
		return fmt.Errorf("mark event %s delivered: %w", eventID, err)
	}
	return nil
}

// ListUndelivered lists events marked undelivered before the given time,
// oldest first.
func ListUndelivered(ctx context.Context, db DB, before time.Time, limit int) ([]lead.Event, error) {
	rows, err := db.Query(ctx, `
select id, lead_id, type, occurred_at, source, properties from events
where undelivered_since is not null and undelivered_since < $1 order by undelivered_since limit $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list undelivered events: %w", err)
	}
	defer rows.Close()
	var out []lead.Event
	for rows.Next() {
		var ev lead.Event
		if err := rows.Scan(&ev.ID, &ev.LeadID, &ev.Type, &ev.OccurredAt, &ev.Source, &ev.Properties); err != nil {
			return nil, fmt.Errorf("list undelivered events: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
