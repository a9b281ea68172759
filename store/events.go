package store

import (
	"context"
	"fmt"

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

// CountEvents counts a lead's stored events.
func CountEvents(ctx context.Context, db DB, leadID string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `select count(*) from events where lead_id = $1`, leadID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events of lead %s: %w", leadID, err)
	}
	return n, nil
}
