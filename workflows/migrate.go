package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
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
		return fmt.Errorf("lead %s's journey has ended: it is %s", r.st.Lead.ID, r.st.Lifecycle)
	}
	if r.st.JourneyID != m.JourneyID || r.st.JourneyVersion != m.From {
		return fmt.Errorf("lead %s is on %s version %d, not %s version %d", r.st.Lead.ID, r.st.JourneyID, r.st.JourneyVersion, m.JourneyID, m.From)
	}
	if _, ok := m.Steps[r.st.Step]; !ok && r.st.Step != "" {
		return fmt.Errorf("lead %s is at step %q, which the migration does not map; it stays on version %d", r.st.Lead.ID, r.st.Step, m.From)
	}
	if loc, ok := r.j.Step(r.st.Step); ok && r.st.Entered && r.st.WaitUntil == 0 && loc.Step.Kind() == journeys.KindSend {
		// In the middle of the send: the lead moves from the step after it.
		if next := r.j.After(loc.Step.ID); next != "" {
			if _, ok := m.Steps[next]; !ok {
				return fmt.Errorf("lead %s is sending at step %q and goes on to step %q, which the migration does not map; it stays on version %d", r.st.Lead.ID, r.st.Step, next, m.From)
			}
		}
	}
	if r.migrating {
		return errors.New("a migration of this lead is being taken already")
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
	r.migrating = true
	defer func() { r.migrating = false }()
	m := q.m
	fromStep := r.st.Step
	fromLoc, _ := r.j.Step(fromStep)
	toStep := m.Steps[fromStep]
	old := r.j
	if err := r.load(m.JourneyID, m.To); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeJourneyNotFound {
			// A refusal, not a dead end: the lead stays where it is.
			q.ans.give(fmt.Errorf("%s version %d is not published; lead %s stays on version %d", m.JourneyID, m.To, r.st.Lead.ID, m.From))
			return nil
		}
		return err
	}
	toLoc, ok := r.j.Step(toStep)
	if toStep != "" && !ok {
		r.j, r.st.JourneyVersion = old, m.From
		q.ans.give(fmt.Errorf("step %q is not in %s version %d", toStep, m.JourneyID, m.To))
		return nil
	}
	// A lead that left nurture in the same batch (a hand-off) is not in
	// its wait any more: it keeps no place.
	kept := r.st.active() && r.st.Entered && toStep != "" && KeepsPlace(fromLoc.Step, toLoc.Step)
	if kept {
		if toStep != fromStep {
			r.st.Occurrences[toStep]++
		}
		r.st.WaitUntil = r.keptDeadline(fromLoc.Step, toLoc.Step)
		if toLoc.Stage != r.st.StepStage {
			r.st.StepStage, r.st.BuyingStage = toLoc.Stage, toLoc.Stage
			if err := r.progress(progress.Stage, "entered stage "+toLoc.Stage); err != nil {
				return err
			}
		}
	} else {
		if r.st.TaskID != 0 {
			note := fmt.Sprintf("the lead moved to %s version %d", m.JourneyID, m.To)
			if r.st.TaskResult != "" {
				note += fmt.Sprintf(" (the outcome %s, reported just before, was not followed)", r.st.TaskResult)
			}
			req := activities.TaskOutcomeRequest{TaskID: r.st.TaskID, Outcome: TaskMigrated, Note: note}
			if err := workflow.ExecuteActivity(r.ctx, r.acts.RecordTaskOutcome, req).Get(r.ctx, nil); err != nil {
				return fmt.Errorf("close task %d of the old step: %w", r.st.TaskID, err)
			}
			r.st.TaskID, r.st.TaskResult, r.st.TaskNote = 0, "", ""
		}
		r.st.Entered, r.st.WaitUntil = false, 0
	}
	r.st.Step = toStep
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
// Waits for a date or a send window are worked out afresh (0). For a lead
// that entered its step before the entry time was kept, the entry is
// worked out from the old wait's deadline and duration (a deadline that
// max_duration brought forward makes it earlier than it was).
func (r *run) keptDeadline(from, to journeys.Step) int64 {
	d := waitOf(to)
	if d == 0 {
		return 0
	}
	entered := time.UnixMilli(r.st.EnteredAt)
	if r.st.EnteredAt == 0 {
		old := waitOf(from)
		if old == 0 || r.st.WaitUntil == 0 {
			return r.st.WaitUntil
		}
		entered = time.UnixMilli(r.st.WaitUntil).Add(-r.scaled(old))
	}
	return r.clipped(entered.Add(r.scaled(d))).UnixMilli()
}

// waitOf is how long a step of a kind that waits a duration waits; 0 for
// the others.
func waitOf(s journeys.Step) time.Duration {
	switch s.Kind() {
	case journeys.KindWait:
		return s.Wait.Value()
	case journeys.KindWaitFor:
		return s.WaitFor.Timeout.Value()
	case journeys.KindTask:
		return s.Task.Timeout.Value()
	}
	return 0
}
