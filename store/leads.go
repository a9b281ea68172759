package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nurture-dev/nurture/lead"
)

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("not found")

// UpsertLead stores a lead's profile; known profile fields are merged, so a
// later form that leaves a field out does not erase it.
func UpsertLead(ctx context.Context, db DB, p lead.Profile) error {
	fields := p.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	tag, err := db.Exec(ctx, `
insert into leads (id, email, first_name, last_name, company, title, time_zone, source, fields, external_id)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, ''))
on conflict (id) do update set
    external_id = coalesce(nullif(excluded.external_id, ''), leads.external_id),
    first_name = coalesce(nullif(excluded.first_name, ''), leads.first_name),
    last_name  = coalesce(nullif(excluded.last_name, ''), leads.last_name),
    company    = coalesce(nullif(excluded.company, ''), leads.company),
    title      = coalesce(nullif(excluded.title, ''), leads.title),
    time_zone  = coalesce(nullif(excluded.time_zone, ''), leads.time_zone),
    source     = coalesce(nullif(leads.source, ''), excluded.source),
    fields     = leads.fields || excluded.fields,
    updated_at = now()
where leads.erased_at is null`,
		p.ID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.TimeZone, p.Source, fields, p.ExternalID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "leads_external_id_idx" {
		return fmt.Errorf("store lead %s: external ID %q belongs to another lead", p.ID, p.ExternalID)
	}
	if err != nil {
		return fmt.Errorf("store lead %s: %w", p.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("lead %s was erased (starter erase): it is not enrolled again: %w", p.ID, ErrErased)
	}
	return nil
}

// LeadRow is a lead as the business sees it.
type LeadRow struct {
	Profile        lead.Profile
	JourneyID      string
	JourneyVersion int
	BuyingStage    string
	Lifecycle      string
	Score          int
	ExitReason     string
	// EndedAt is when the lead's last journey ended; nil while one runs.
	EndedAt   *time.Time
	UpdatedAt time.Time
	// PendingJourney is an enrolment asked of Temporal and not confirmed
	// (see SetEnrolPending); empty when there is none.
	PendingJourney string
	PendingStage   string
	PendingSince   *time.Time
	// Erased is set once its personal data was erased (EraseLead).
	Erased bool
}

const leadColumns = `id, email, first_name, last_name, company, title, time_zone, source, coalesce(external_id, ''), fields,
    coalesce(journey_id, ''), coalesce(journey_version, 0), buying_stage, lifecycle, score, exit_reason, ended_at, updated_at,
    coalesce(pending_journey, ''), pending_stage, pending_since, erased_at is not null`

func scanLead(row pgx.Row) (LeadRow, error) {
	var l LeadRow
	err := row.Scan(leadDest(&l)...)
	return l, err
}

// leadDest is where the leadColumns of a row go.
func leadDest(l *LeadRow) []any {
	p := &l.Profile
	return []any{&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Company, &p.Title, &p.TimeZone, &p.Source, &p.ExternalID, &p.Fields,
		&l.JourneyID, &l.JourneyVersion, &l.BuyingStage, &l.Lifecycle, &l.Score, &l.ExitReason, &l.EndedAt, &l.UpdatedAt,
		&l.PendingJourney, &l.PendingStage, &l.PendingSince, &l.Erased}
}

// GetLead loads a lead by ID.
func GetLead(ctx context.Context, db DB, id string) (LeadRow, error) {
	l, err := scanLead(db.QueryRow(ctx, `select `+leadColumns+` from leads where id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, fmt.Errorf("lead %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("load lead %s: %w", id, err)
	}
	return l, refuseErased(l)
}

// refuseErased makes an erased lead not found, saying why: nothing may
// enrol it, signal it or show it again.
func refuseErased(l LeadRow) error {
	if l.Erased {
		return erasedError(l.Profile.ID)
	}
	return nil
}

// erasedError is what every way in says of an erased lead: not found,
// because erased.
func erasedError(leadID string) error {
	return fmt.Errorf("lead %s was erased (starter erase): %w (%w)", leadID, ErrNotFound, ErrErased)
}

// LeadRef names a lead the ways a caller may know it; the first one set
// counts.
type LeadRef struct {
	ID         string
	Email      string
	ExternalID string
}

// FindLead loads a lead by ID, e-mail address or external ID.
func FindLead(ctx context.Context, db DB, ref LeadRef) (LeadRow, error) {
	switch {
	case ref.ID != "":
		return GetLead(ctx, db, ref.ID)
	case ref.Email != "":
		return GetLead(ctx, db, lead.IDForEmail(ref.Email))
	case ref.ExternalID != "":
		l, err := scanLead(db.QueryRow(ctx, `select `+leadColumns+` from leads where external_id = $1`, ref.ExternalID))
		if errors.Is(err, pgx.ErrNoRows) {
			return l, fmt.Errorf("lead with external ID %q: %w", ref.ExternalID, ErrNotFound)
		}
		if err != nil {
			return l, fmt.Errorf("load lead with external ID %q: %w", ref.ExternalID, err)
		}
		return l, refuseErased(l)
	}
	return LeadRow{}, errors.New("name the lead: lead_id, email or external_id")
}

// SetEnrolPending records that an enrolment is being asked of Temporal.
// If the start is refused or its answer lost, the mark stays, and
// `starter reconcile` finds the lead and asks again; the enrolment itself
// (journey, lifecycle) is recorded by the workflow's first progress write.
func SetEnrolPending(ctx context.Context, db DB, leadID, journeyID, stage string) error {
	_, err := db.Exec(ctx, `update leads set pending_journey = $2, pending_stage = $3, pending_since = now() where id = $1`, leadID, journeyID, stage)
	if err != nil {
		return fmt.Errorf("record pending enrolment of lead %s: %w", leadID, err)
	}
	return nil
}

// ClearEnrolPending removes the mark once Temporal confirmed the enrolment.
func ClearEnrolPending(ctx context.Context, db DB, leadID, journeyID string) error {
	_, err := db.Exec(ctx, `update leads set pending_journey = null, pending_stage = '', pending_since = null where id = $1 and pending_journey = $2`, leadID, journeyID)
	if err != nil {
		return fmt.Errorf("clear pending enrolment of lead %s: %w", leadID, err)
	}
	return nil
}

// ListPendingEnrolments lists leads whose enrolment has been pending since
// before the given time, oldest first.
func ListPendingEnrolments(ctx context.Context, db DB, before time.Time, limit int) ([]LeadRow, error) {
	return queryLeads(ctx, db, `select `+leadColumns+` from leads where pending_journey is not null and pending_since < $1 order by pending_since limit $2`, before, limit)
}

// ListActiveLeads lists leads the database shows in a journey (nurturing,
// MQL or handed off), in ID order after the given ID: a reconciliation
// walks them against Temporal in pages.
func ListActiveLeads(ctx context.Context, db DB, afterID string, limit int) ([]LeadRow, error) {
	return queryLeads(ctx, db, `select `+leadColumns+` from leads where lifecycle in ('nurturing', 'mql', 'handed_off') and id > $1 order by id limit $2`, afterID, limit)
}

// CountByLifecycle counts the leads by lifecycle.
func CountByLifecycle(ctx context.Context, db DB) (map[string]int, error) {
	rows, err := db.Query(ctx, `select lifecycle, count(*) from leads group by lifecycle`)
	if err != nil {
		return nil, fmt.Errorf("count leads by lifecycle: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var l string
		var n int
		if err := rows.Scan(&l, &n); err != nil {
			return nil, fmt.Errorf("count leads by lifecycle: %w", err)
		}
		out[l] = n
	}
	return out, rows.Err()
}

// ListRunningOn lists the leads the database shows running on a journey
// version (nurturing, MQL or handed off), in ID order after the given ID.
func ListRunningOn(ctx context.Context, db DB, journeyID string, version int, afterID string, limit int) ([]LeadRow, error) {
	return queryLeads(ctx, db, `select `+leadColumns+` from leads
where journey_id = $1 and journey_version = $2 and lifecycle in ('nurturing', 'mql', 'handed_off') and id > $3 order by id limit $4`,
		journeyID, version, afterID, limit)
}

func queryLeads(ctx context.Context, db DB, sql string, args ...any) ([]LeadRow, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list leads: %w", err)
	}
	defer rows.Close()
	var out []LeadRow
	for rows.Next() {
		l, err := scanLead(rows)
		if err != nil {
			return nil, fmt.Errorf("list leads: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ForgetLead erases everything stored about a lead, in one transaction: the
// shape of a right-to-erasure request, and how the demo starts its sample
// leads afresh.
func ForgetLead(ctx context.Context, db DB, id string) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, q := range []string{
			`delete from suppressions where email = (select email from leads where id = $1)`,
			`delete from tasks where lead_id = $1`,
			`delete from crm_posts where handoff_id in (select id from handoffs where lead_id = $1)`,
			`delete from handoffs where lead_id = $1`,
			`delete from lead_keys where lead_id = $1`,
			`delete from sends where lead_id = $1`,
			`delete from score_snapshots where lead_id = $1`,
			`delete from events where lead_id = $1`,
			`delete from leads where id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget lead %s: %w", id, err)
	}
	return nil
}

// FinalState is how a lead's journey ended, as its closed workflow says.
type FinalState struct {
	LeadID      string
	Lifecycle   string
	ExitReason  string
	Score       int
	BuyingStage string
	EndedAt     time.Time
}

// SetFinalState stores how a closed journey ended, for a lead whose row
// still shows it running (see ingest.Reconcile).
func SetFinalState(ctx context.Context, db DB, f FinalState) error {
	_, err := db.Exec(ctx, `update leads set lifecycle = $2, exit_reason = $3, score = $4, buying_stage = $5, ended_at = $6, updated_at = now() where id = $1`,
		f.LeadID, f.Lifecycle, f.ExitReason, f.Score, f.BuyingStage, f.EndedAt)
	if err != nil {
		return fmt.Errorf("store final state of lead %s: %w", f.LeadID, err)
	}
	return nil
}

// LeadFilter picks leads to list; empty fields do not filter.
type LeadFilter struct {
	JourneyID string
	Stage     string
	Lifecycle string
	// Search finds leads with a word of their address, name or company
	// starting with each word searched for, in any case: "ada analyt"
	// finds ada@analytical.test and Ada of Analytical Engines.
	Search string
	Limit  int
	// After, when set, lists the leads that come after it in the order
	// (the next page).
	After *LeadCursor
}

// LeadCursor is a place in the lead list: the last lead of a page.
type LeadCursor struct {
	UpdatedAt time.Time
	ID        string
}

// FindLeads lists leads that match, most recently changed first (the
// leads_recent_idx order).
func FindLeads(ctx context.Context, db DB, f LeadFilter) ([]LeadRow, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var after *time.Time
	afterID := ""
	if f.After != nil {
		after, afterID = &f.After.UpdatedAt, f.After.ID
	}
	query, err := SearchQuery(f.Search)
	if err != nil {
		return nil, err
	}
	return queryLeads(ctx, db, `select `+leadColumns+` from leads
where ($1 = '' or journey_id = $1) and ($2 = '' or buying_stage = $2) and ($3 = '' or lifecycle = $3)
    and ($4 = '' or to_tsvector('simple', translate(email, '@.-_+', '     ') || ' ' || first_name || ' ' || last_name || ' ' || company)
        @@ to_tsquery('simple', $4))
    and ($6::timestamptz is null or (updated_at, id) < ($6, $7))
order by updated_at desc, id desc limit $5`, f.JourneyID, f.Stage, f.Lifecycle, query, f.Limit, after, afterID)
}

// ErrSearch says a search has nothing to search for.
var ErrSearch = errors.New("search for a word of a lead's address, name or company (letters or digits)")

// SearchQuery is the text-search query of a lead search: each word (a run
// of letters and digits) as a prefix, all required. Only letters and
// digits reach the query, so no search is a malformed one.
func SearchQuery(search string) (string, error) {
	if strings.TrimSpace(search) == "" {
		return "", nil
	}
	words := strings.FieldsFunc(strings.ToLower(search), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 {
		return "", ErrSearch
	}
	for i, w := range words {
		words[i] = w + ":*"
	}
	return strings.Join(words, " & "), nil
}
