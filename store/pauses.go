package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pause says a journey is paused, since when and why.
type Pause struct {
	JourneyID string
	Reason    string
	Since     time.Time
}

// PauseJourney pauses a published journey; pausing one that is paused
// keeps the first pause. It reports whether this call paused it.
func PauseJourney(ctx context.Context, db DB, journeyID, reason string) (bool, error) {
	tag, err := db.Exec(ctx, `
insert into journey_pauses (journey_id, reason)
select $1, $2 where exists (select 1 from journey_versions where journey_id = $1)
on conflict (journey_id) do nothing`, journeyID, reason)
	if err != nil {
		return false, fmt.Errorf("pause journey %s: %w", journeyID, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	if _, paused, err := JourneyPaused(ctx, db, journeyID); err != nil || paused {
		return false, err
	}
	return false, fmt.Errorf("journey %q is not published: %w", journeyID, ErrNotFound)
}

// ResumeJourney lifts a pause; it reports whether the journey was paused.
func ResumeJourney(ctx context.Context, db DB, journeyID string) (bool, error) {
	tag, err := db.Exec(ctx, `delete from journey_pauses where journey_id = $1`, journeyID)
	if err != nil {
		return false, fmt.Errorf("resume journey %s: %w", journeyID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// JourneyPaused reports whether a journey is paused.
func JourneyPaused(ctx context.Context, db DB, journeyID string) (Pause, bool, error) {
	p := Pause{JourneyID: journeyID}
	err := db.QueryRow(ctx, `select reason, paused_at from journey_pauses where journey_id = $1`, journeyID).Scan(&p.Reason, &p.Since)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("is journey %s paused: %w", journeyID, err)
	}
	return p, true, nil
}
