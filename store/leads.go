package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	_, err := db.Exec(ctx, `
insert into leads (id, email, first_name, last_name, company, title, time_zone, source, fields)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
on conflict (id) do update set
    first_name = coalesce(nullif(excluded.first_name, ''), leads.first_name),
    last_name  = coalesce(nullif(excluded.last_name, ''), leads.last_name),
    company    = coalesce(nullif(excluded.company, ''), leads.company),
    title      = coalesce(nullif(excluded.title, ''), leads.title),
    time_zone  = coalesce(nullif(excluded.time_zone, ''), leads.time_zone),
    source     = coalesce(nullif(leads.source, ''), excluded.source),
    fields     = leads.fields || excluded.fields,
    updated_at = now()`,
		p.ID, p.Email, p.FirstName, p.LastName, p.Company, p.Title, p.TimeZone, p.Source, fields)
	if err != nil {
		return fmt.Errorf("store lead %s: %w", p.Email, err)
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
	UpdatedAt      time.Time
}

const leadColumns = `id, email, first_name, last_name, company, title, time_zone, source, fields,
    coalesce(journey_id, ''), coalesce(journey_version, 0), buying_stage, lifecycle, score, updated_at`

func scanLead(row pgx.Row) (LeadRow, error) {
	var l LeadRow
	p := &l.Profile
	err := row.Scan(&p.ID, &p.Email, &p.FirstName, &p.LastName, &p.Company, &p.Title, &p.TimeZone, &p.Source, &p.Fields,
		&l.JourneyID, &l.JourneyVersion, &l.BuyingStage, &l.Lifecycle, &l.Score, &l.UpdatedAt)
	return l, err
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
	return l, nil
}

// SetLeadJourney records which journey version a lead was enrolled in.
func SetLeadJourney(ctx context.Context, db DB, leadID, journeyID string, version int) error {
	_, err := db.Exec(ctx, `update leads set journey_id = $2, journey_version = $3, lifecycle = 'nurturing', updated_at = now() where id = $1`,
		leadID, journeyID, version)
	if err != nil {
		return fmt.Errorf("record enrolment of lead %s: %w", leadID, err)
	}
	return nil
}

// ForgetLead erases everything stored about a lead, in one transaction: the
// shape of a right-to-erasure request, and how the demo starts its sample
// leads afresh.
func ForgetLead(ctx context.Context, db DB, id string) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, q := range []string{
			`delete from suppressions where email = (select email from leads where id = $1)`,
			`delete from tasks where lead_id = $1`,
			`delete from handoffs where lead_id = $1`,
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
