package store

import (
	"context"
	"fmt"
	"time"
)

// ReserveDomainSlot gives the send with this key a slot among the sends to
// one recipient domain, at most limit to a window of length per (windows
// are aligned to the clock: a minute's start at :00): in the window of now
// when it has room, else in the earliest later one that has. It returns the
// start of the slot's window; the send may go once that time has come.
//
// A key that already holds a slot in the window of now or a later one keeps
// it, so a send that waited for its window (or whose worker died) does not
// take a second slot. A slot in a window that has passed unused (the send
// was held meanwhile by a pause or a shut send window) is given up and a
// new one taken: a send counts in the window it goes in.
//
// It is one statement: the domain's row is locked by the upsert, so workers
// reserving at the same time are counted one after another.
func ReserveDomainSlot(ctx context.Context, db DB, key, domain string, now time.Time, limit int, per time.Duration) (time.Time, error) {
	current := now.UTC().Truncate(per)
	var start time.Time
	var sends int
	err := db.QueryRow(ctx, `
with kept as (
    select window_start from send_slots where send_key = $1 and window_start >= $3
), slot as (
    insert into domain_send_windows as w (domain, window_start, sends)
    select $2, $3, 1 where not exists (select 1 from kept)
    on conflict (domain) do update set
        window_start = case when w.window_start < $3 then $3
                            when w.sends < $4 then w.window_start
                            else w.window_start + $5::double precision * interval '1 microsecond' end,
        sends = case when w.window_start < $3 or w.sends >= $4 then 1 else w.sends + 1 end
    returning window_start, sends
), held as (
    insert into send_slots (send_key, domain, window_start)
    select $1, $2, window_start from slot
    on conflict (send_key) do update set domain = excluded.domain, window_start = excluded.window_start
)
select window_start, 0 from kept
union all
select window_start, sends from slot`, key, domain, current, limit, per.Microseconds()).Scan(&start, &sends)
	if err != nil {
		return time.Time{}, fmt.Errorf("reserve a send slot for domain %s: %w", domain, err)
	}
	if sends == 1 {
		// The first slot of a window: the domain's slots of a day ago and
		// more are no use to anyone; once a window keeps this small.
		if _, err := db.Exec(ctx, `delete from send_slots where domain = $1 and window_start < $2`, domain, start.Add(-slotsKept)); err != nil {
			return time.Time{}, fmt.Errorf("prune the send slots of domain %s: %w", domain, err)
		}
	}
	return start.UTC(), nil
}

// slotsKept is how long send slots are kept after their window: long enough
// for any send held by one to have gone, and for an operator to look.
const slotsKept = 24 * time.Hour

// DomainSlot is how many sends to a domain hold slots in one window.
type DomainSlot struct {
	Domain string
	Start  time.Time
	Sends  int
}

// DomainSlots lists, window by window, the slots sends hold (those kept:
// a day's), oldest first: what the per-domain limit let through.
func DomainSlots(ctx context.Context, db DB) ([]DomainSlot, error) {
	rows, err := db.Query(ctx, `
select domain, window_start, count(*) from send_slots
group by domain, window_start order by window_start, domain`)
	if err != nil {
		return nil, fmt.Errorf("list send slots: %w", err)
	}
	defer rows.Close()
	var out []DomainSlot
	for rows.Next() {
		var s DomainSlot
		if err := rows.Scan(&s.Domain, &s.Start, &s.Sends); err != nil {
			return nil, fmt.Errorf("list send slots: %w", err)
		}
		s.Start = s.Start.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list send slots: %w", err)
	}
	return out, nil
}
