package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
)

// Migration moves a running lead from one version of its journey to
// another: from the step it is at to the step Steps maps it to. Score,
// stage, history, sends and the journey clock carry over.
//
// The journey takes it at its next safe point: between steps, or while it
// waits (in a wait, a wait_for, a wait_until, on a task, for a verdict, or
// for a send's window); never in the middle of a send. A lead waiting in a
// step mapped to a step of the same kind keeps its place in the wait: the
// new step's duration counts from when it entered the old one, and its
// open task stays open. Otherwise it enters the new step afresh (an open
// task of the old step is closed with the outcome "migrated").
type Migration struct {
	JourneyID string `json:"journey_id"`
	From      int    `json:"from"`
	To        int    `json:"to"`
	// Steps maps every step of From a lead may be at to a step of To. A
	// lead at a step missing from it is refused and stays where it is.
	Steps map[string]string `json:"steps"`
}

// Validate checks the migration's shape; the journey checks it against
// where the lead is.
func (m Migration) Validate() error {
	switch {
	case m.JourneyID == "":
		return errors.New("name the journey to migrate")
	case m.From <= 0 || m.To <= 0:
		return fmt.Errorf("versions to migrate from and to must be at least 1 (got %d and %d)", m.From, m.To)
	case m.From == m.To:
		return fmt.Errorf("leads on version %d are there already: name another version to migrate to", m.To)
	case len(m.Steps) == 0:
		return errors.New("the migration maps no step")
	}
	for from, to := range m.Steps {
		if to == "" {
			return fmt.Errorf("step %q is mapped to no step", from)
		}
	}
	return nil
}

// MigrationResult says where the lead was and where it went.
type MigrationResult struct {
	FromStep string `json:"from_step"`
	ToStep   string `json:"to_step"`
	Stage    string `json:"stage"`
	// KeptPlace is true when the lead waited in a step mapped to one of
	// the same kind and kept its place there (see Migration).
	KeptPlace bool `json:"kept_place,omitempty"`
}

// ErrMigrationWaiting says the journey took the migration and has not
// carried it out within the wait: it is busy (a send, held by a pause, or a
// dependency it retries) and moves when that is done.
var ErrMigrationWaiting = errors.New("the journey took the migration and has not carried it out yet (it is busy: a send in flight or held by a pause, or a dependency it is waiting for); the lead moves when that is done")

// MigrateLead asks a lead's journey to move to another version and waits
// up to wait for it to have moved. A lead whose journey is elsewhere, has
// ended or is at an unmapped step is refused with why (ErrRefused).
func MigrateLead(ctx context.Context, c client.Client, leadID string, m Migration, wait time.Duration) (MigrationResult, error) {
	if err := m.Validate(); err != nil {
		return MigrationResult{}, err
	}
	return updateWithin[MigrationResult](ctx, c, leadID, UpdateMigrate, m, wait, ErrMigrationWaiting)
}
