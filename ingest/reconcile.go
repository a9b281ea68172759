package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Repair is one thing Reconcile found and what it did about it.
type Repair struct {
	LeadID string
	Email  string
	// Found says what disagreed; Did what was done ("" when nothing could
	// be).
	Found string
	Did   string
	Err   error
}

// Reconcile brings the database and Temporal back into agreement, for
// what the normal path cannot repair by itself:
//
//   - enrolments left pending longer than olderThan (Temporal refused the
//     start or its answer was lost) are asked of Temporal again, under the
//     same rules as any enrolment;
//   - events stored but not delivered (Temporal was away and their sender
//     does not retry, like a click) are delivered, or settled if their
//     lead's journey has ended;
//   - leads the database shows in a journey whose workflow is closed get
//     the workflow's final state (its result, or "exited" with the reason
//     for a failed, terminated or timed-out run).
//
// It reports each repair; with dryRun it only reports.
func (in *Intake) Reconcile(ctx context.Context, olderThan time.Duration, dryRun bool) ([]Repair, error) {
	var out []Repair
	pending, err := store.ListPendingEnrolments(ctx, in.DB, in.now().Add(-olderThan), 1000)
	if err != nil {
		return nil, err
	}
	for _, l := range pending {
		r := Repair{LeadID: l.Profile.ID, Email: l.Profile.Email,
			Found: fmt.Sprintf("enrolment in %q pending since %s", l.PendingJourney, l.PendingSince.UTC().Format(time.RFC3339))}
		if !dryRun {
			// A stage of "" lets the entry rules decide again.
			res, err := in.Enroll(ctx, l.Profile, l.PendingJourney, l.PendingStage)
			switch {
			case errors.Is(err, ErrReentry):
				r.Did, r.Err = "dropped: "+err.Error(), store.ClearEnrolPending(ctx, in.DB, l.Profile.ID, l.PendingJourney)
			case err != nil:
				r.Err = err
			case res.Started:
				r.Did = "journey started, run " + res.RunID
			default:
				r.Did = "delivered to the running journey"
			}
		}
		out = append(out, r)
	}
	undelivered, err := store.ListUndelivered(ctx, in.DB, in.now().Add(-olderThan), 1000)
	if err != nil {
		return out, err
	}
	for _, ev := range undelivered {
		r := Repair{LeadID: ev.LeadID, Found: fmt.Sprintf("event %s (%s) stored but not delivered", ev.ID, ev.Type)}
		if !dryRun {
			err := workflows.DeliverEvent(ctx, in.Temporal, ev.LeadID, ev)
			switch {
			case err == nil:
				r.Did = "delivered"
			case errors.Is(err, workflows.ErrNoJourney):
				r.Did = "not delivered: the lead's journey has ended"
			default:
				r.Err = err
			}
			if r.Err == nil {
				r.Err = store.MarkDelivered(ctx, in.DB, ev.LeadID, ev.ID)
			}
		}
		out = append(out, r)
	}
	after := ""
	for {
		active, err := store.ListActiveLeads(ctx, in.DB, after, 500)
		if err != nil {
			return out, err
		}
		if len(active) == 0 {
			return out, nil
		}
		after = active[len(active)-1].Profile.ID
		for _, l := range active {
			run, err := in.describe(ctx, l.Profile.ID)
			if err != nil {
				out = append(out, Repair{LeadID: l.Profile.ID, Email: l.Profile.Email, Err: err})
				continue
			}
			if run.running {
				continue
			}
			r := Repair{LeadID: l.Profile.ID, Email: l.Profile.Email}
			if !run.closed {
				r.Found = fmt.Sprintf("stored as %s, but Temporal has no workflow for the lead (past its retention, or never started)", l.Lifecycle)
				out = append(out, r)
				continue
			}
			final, err := in.finalState(ctx, l, run)
			if err != nil {
				r.Err = err
				out = append(out, r)
				continue
			}
			r.Found = fmt.Sprintf("stored as %s, but its workflow is %s", l.Lifecycle, statusName(run.status))
			if !dryRun {
				if err := store.SetFinalState(ctx, in.DB, final); err != nil {
					r.Err = err
				} else {
					r.Did = fmt.Sprintf("stored as %s (%s)", final.Lifecycle, final.ExitReason)
				}
			}
			out = append(out, r)
		}
	}
}

// finalState is the state a closed workflow left its lead in.
func (in *Intake) finalState(ctx context.Context, l store.LeadRow, run journeyRun) (store.FinalState, error) {
	f := store.FinalState{LeadID: l.Profile.ID, Lifecycle: string(workflows.LifecycleExited), Score: l.Score, BuyingStage: l.BuyingStage, EndedAt: run.closeTime}
	if run.status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		// A workflow that did not complete left no exit reason of its own:
		// "workflow_terminated", "workflow_failed", ...
		f.ExitReason = "workflow_" + statusName(run.status)
		return f, nil
	}
	var res workflows.Result
	if err := in.Temporal.GetWorkflow(ctx, workflows.WorkflowID(l.Profile.ID), run.runID).Get(ctx, &res); err != nil {
		return f, fmt.Errorf("read the result of lead %s's workflow: %w", l.Profile.ID, err)
	}
	f.Lifecycle, f.ExitReason, f.Score = string(res.Lifecycle), string(res.ExitReason), res.Score
	if res.BuyingStage != "" {
		f.BuyingStage = res.BuyingStage
	}
	return f, nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}
