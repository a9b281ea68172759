package ingest

import (
	"context"
	"time"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// State is what is known of a lead now: its row, its journey's state (live
// when the journey runs and answers), and, while it is in nurture, every
// part of its journey's hand-off rule, met or not.
type State struct {
	Row    store.LeadRow
	Status workflows.Status
	// Live says Status came from the running journey; when it did not,
	// LiveErr says why (the journey has ended, Temporal is away) and
	// Status is the last state PostgreSQL recorded.
	Live    bool
	LiveErr error
	// Rule is why the lead is not handed off yet (nil when it is not in
	// nurture, or its journey version cannot be loaded).
	Rule []journeys.RuleCheck
}

// queryWait bounds the query of a lead's journey: a person waits for it.
const queryWait = 3 * time.Second

// State reads what is known of a lead. Only a lead the database shows in
// a journey is queried, so a page about ended leads never waits on
// Temporal.
func (in *Intake) State(ctx context.Context, leadID string) (State, error) {
	row, err := store.GetLead(ctx, in.DB, leadID)
	if err != nil {
		return State{}, err
	}
	st := State{Row: row, LiveErr: workflows.ErrNoJourney}
	if in.Temporal != nil && !ended(row.Lifecycle) {
		qctx, cancel := context.WithTimeout(ctx, queryWait)
		st.Status, st.LiveErr = workflows.QueryLead(qctx, in.Temporal, leadID)
		cancel()
		st.Live = st.LiveErr == nil
	}
	if !st.Live {
		// The journey may be gone from Temporal (retention); the database
		// still knows the last recorded state.
		st.Status = workflows.Status{LeadID: leadID, Email: row.Profile.Email, JourneyID: row.JourneyID, JourneyVersion: row.JourneyVersion,
			BuyingStage: row.BuyingStage, Lifecycle: workflows.Lifecycle(row.Lifecycle), Total: row.Score, ExitReason: workflows.ExitReason(row.ExitReason)}
		if snap, err := store.LatestSnapshot(ctx, in.DB, leadID); err == nil {
			st.Status.Score = snap.Score
			st.Status.Step = snap.Step
		}
	}
	if l := st.Status.Lifecycle; l == workflows.LifecycleNurturing || l == workflows.LifecycleMQL {
		if j, _, err := store.LoadJourney(ctx, in.DB, st.Status.JourneyID, st.Status.JourneyVersion); err == nil {
			st.Rule = j.Handoff.Conditions(st.Status.Score, row.Profile)
		}
	}
	return st, nil
}
