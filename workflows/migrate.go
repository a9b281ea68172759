package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/progress"
)

// errMigrated unwinds a step whose wait a migration ended: the lead is now
// at the step the migration chose, and the loop goes on from there.
var errMigrated = errors.New("migrated to another journey version")

// TaskMigrated is the outcome recorded for a task closed because its lead
// moved to a step with another kind or other outcomes.
const TaskMigrated = "migrated"

type migrationMsg struct {
	m   Migration
	ans *answer
}

// checkMigration says why the lead cannot take a migration now.
func (r *run) checkMigration(m Migration) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if r.st.finished() {
		return fmt.Errorf("lead %s's journey has ended: it is %s", r.st.Lead.Email, r.st.Lifecycle)
	}
	if r.st.JourneyID != m.JourneyID || r.st.JourneyVersion != m.From {
		return fmt.Errorf("lead %s is on %s version %d, not %s version %d", r.st.Lead.Email, r.st.JourneyID, r.st.JourneyVersion, m.JourneyID, m.From)
	}
	if _, ok := m.Steps[r.st.Step]; !ok && r.st.Step != "" {
		return fmt.Errorf("lead %s is at step %q, which the migration does not map; it stays on version %d", r.st.Lead.Email, r.st.Step, m.From)
	}
	for _, q := range r.migrations {
		if !q.ans.done {
			return errors.New("a migration of this lead is being taken already")
		}
	}
	return nil
}

// waitingKinds are the kinds of step a lead can be found waiting in, and
// so keep its place in when it moves to a step of the same kind.
var waitingKinds = []journeys.StepKind{journeys.KindSend, journeys.KindWait, journeys.KindWaitUntil, journeys.KindWaitFor, journeys.KindTask}

// WaitsIn reports whether a lead can be found waiting in a step of kind k.
func WaitsIn(k journeys.StepKind) bool { return slices.Contains(waitingKinds, k) }

// KeepsPlace reports whether a lead waiting in step from keeps its place
// when it moves to step to: they are of the same waiting kind, and for a
// task, the open task has the outcomes the new step knows.
func KeepsPlace(from, to journeys.Step) bool {
	k := from.Kind()
	if k != to.Kind() || !WaitsIn(k) {
		return false
	}
	if k == journeys.KindTask {
		return slices.Equal(slices.Sorted(maps.Keys(from.Task.Outcomes)), slices.Sorted(maps.Keys(to.Task.Outcomes)))
	}
	return true
}

// migrate moves the lead to the migration's version, at a safe point of
// the main loop (it runs only where messages are handled: between steps
// and in waits, never in the middle of a send).
func (r *run) migrate(q migrationMsg) error {
	saved := r.migrations
	r.migrations = nil
	err := r.checkMigration(q.m)
	r.migrations = saved
	if err != nil {
		// The lead moved on since the Update was accepted, to a step the
		// mapping leaves out, or its journey ended.
		q.ans.give(err)
		return nil
	}
	m := q.m
	fromStep := r.st.Step
	fromLoc, _ := r.j.Step(fromStep)
	toStep := m.Steps[fromStep]
	old := r.j
	if err := r.load(m.JourneyID, m.To); err != nil {
		return err
	}
	toLoc, ok := r.j.Step(toStep)
	if toStep != "" && !ok {
		r.j, r.st.JourneyVersion = old, m.From
		q.ans.give(fmt.Errorf("step %q is not in %s version %d", toStep, m.JourneyID, m.To))
		return nil
	}
	kept := r.st.Entered && toStep != "" && KeepsPlace(fromLoc.Step, toLoc.Step)
	if kept {
		if toStep != fromStep {
			r.st.Occurrences[toStep]++
		}
		r.st.WaitUntil = r.keptDeadline(toLoc.Step)
		if toLoc.Stage != r.st.StepStage {
			r.st.StepStage, r.st.BuyingStage = toLoc.Stage, toLoc.Stage
		}
	} else {
		if r.st.TaskID != 0 {
			req := activities.TaskOutcomeRequest{TaskID: r.st.TaskID, Outcome: cmp.Or(r.st.TaskResult, TaskMigrated), Note: fmt.Sprintf("the lead moved to %s version %d", m.JourneyID, m.To)}
			if err := workflow.ExecuteActivity(r.ctx, r.acts.RecordTaskOutcome, req).Get(r.ctx, nil); err != nil {
				return fmt.Errorf("close task %d of the old step: %w", r.st.TaskID, err)
			}
			r.st.TaskID, r.st.TaskResult, r.st.TaskNote = 0, "", ""
		}
		r.st.Entered, r.st.WaitUntil = false, 0
	}
	r.st.Step, r.st.Matched = toStep, ""
	r.migrated = true
	outcome := fmt.Sprintf("migrated to version %d, step %q", m.To, toStep)
	r.st.record(StepRecord{Step: fromStep, Kind: string(fromLoc.Step.Kind()), Stage: fromLoc.Stage, At: workflow.Now(r.ctx).UTC().Format(time.RFC3339), Outcome: outcome})
	if err := r.progress(progress.Migrated, fmt.Sprintf("migrated from version %d step %q to version %d step %q", m.From, fromStep, m.To, toStep)); err != nil {
		return err
	}
	q.ans.migration = MigrationResult{FromStep: fromStep, ToStep: toStep, Stage: r.st.BuyingStage, KeptPlace: kept}
	q.ans.give(nil)
	return nil
}

// keptDeadline is when a wait the lead keeps its place in ends under the
// new step: its duration counted from when the lead entered the old step.
// Waits for a date or a send window are worked out afresh (0). A lead that
// entered its step before the entry time was kept waits as long as it
// would have.
func (r *run) keptDeadline(to journeys.Step) int64 {
	var d time.Duration
	switch to.Kind() {
	case journeys.KindWait:
		d = to.Wait.Value()
	case journeys.KindWaitFor:
		d = to.WaitFor.Timeout.Value()
	case journeys.KindTask:
		d = to.Task.Timeout.Value()
	default:
		return 0
	}
	if r.st.EnteredAt == 0 {
		return r.st.WaitUntil
	}
	return r.clipped(time.UnixMilli(r.st.EnteredAt).Add(r.scaled(d))).UnixMilli()
}
