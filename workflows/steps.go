package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
)

// execute runs the current step and moves to the next one. It reports
// whether the step waited, for the loop guard.
func (r *run) execute() (bool, error) {
	loc, ok := r.j.Step(r.st.Step)
	if !ok {
		// Only a bad migration mapping could do this; validation checks it.
		return false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %q is not in journey %q version %d", r.st.Step, r.j.ID, r.st.JourneyVersion), "UnknownStep", nil)
	}
	step := loc.Step
	if !r.st.Entered {
		r.st.Entered = true
		r.st.Occurrences[step.ID]++
		r.st.WaitUntil, r.st.EnteredAt = 0, workflow.Now(r.ctx).UnixMilli()
		from := r.st.StepStage
		r.st.StepStage = loc.Stage
		if loc.Stage != r.st.BuyingStage {
			// Entering a step of another stage moves the lead there. A step
			// of the same stage as the last one does not: the buying stage
			// differs only because a set_stage moved it, and that holds.
			// (Before this, every step put the lead back in its own stage,
			// undoing set_stage; running leads keep that until they pass.)
			moves := from != loc.Stage || !r.has(versionSetStageHolds)
			if moves {
				r.st.BuyingStage = loc.Stage
				if err := r.progress(progress.Stage, "entered stage "+loc.Stage); err != nil {
					return false, err
				}
			}
		}
	}
	res := stepResult{next: r.j.After(step.ID)}
	r.migrated = false
	if run, ok := stepHandlers[step.Kind()]; ok {
		if err := run(r, step, &res); errors.Is(err, errMigrated) {
			// A migration ended the step's wait and chose the step to go
			// on from; it recorded the step's end itself.
			r.migrated = false
			return true, nil
		} else if err != nil {
			return res.waited, err
		}
	}
	outcome, next, waited := res.outcome, res.next, res.waited
	r.st.record(StepRecord{Step: step.ID, Kind: string(step.Kind()), Stage: loc.Stage, At: workflow.Now(r.ctx).UTC().Format(time.RFC3339), Outcome: outcome})
	if r.st.active() || r.st.Lifecycle == LifecycleHandedOff {
		// After a hand-off the loop waits for sales; a recycle verdict
		// chooses the step then.
		r.st.Step, r.st.Entered = next, false
	}
	return waited, nil
}

// stepResult is what a step did: its outcome for the lead's record, the
// step it goes to, and whether it waited (for the loop guard).
type stepResult struct {
	outcome string
	next    string
	waited  bool
}

// stepHandlers run a step of each kind; res comes with the following step
// as next. A kind is added here and in package journeys, nowhere else in
// the interpreter.
var stepHandlers = map[journeys.StepKind]func(r *run, step journeys.Step, res *stepResult) error{
	journeys.KindSend:        (*run).stepSend,
	journeys.KindWait:        (*run).stepWait,
	journeys.KindWaitUntil:   (*run).stepWaitUntil,
	journeys.KindWaitFor:     (*run).stepWaitFor,
	journeys.KindTask:        (*run).stepTask,
	journeys.KindBranch:      (*run).stepBranch,
	journeys.KindAdjustScore: (*run).stepAdjustScore,
	journeys.KindSetStage:    (*run).stepSetStage,
	journeys.KindHandoff:     (*run).stepHandoff,
	journeys.KindGoto:        (*run).stepGoto,
	journeys.KindExit:        (*run).stepExit,
}

func (r *run) stepSend(step journeys.Step, res *stepResult) error {
	// Outside the send window or over the frequency cap, the email
	// waits for its turn (engagement is still handled meanwhile).
	if at := r.sendAllowedAt(); at.After(r.journeyNow()) {
		res.waited = true
		if _, err := r.wait(func() time.Time { return r.realAt(at) }, nil, false); err != nil {
			return err
		}
		r.st.WaitUntil = 0
		if !r.st.active() || r.overdue() {
			res.outcome = "not sent"
			return nil
		}
	}
	sent, err := r.send(step)
	if err != nil {
		return err
	}
	res.outcome = sent.Status
	switch sent.Status {
	case activities.SendSuppressed:
		return r.exit(ExitSuppressed.With(sent.Reason))
	case activities.SendRejected:
		return r.exit(ExitAddressRejected)
	case activities.SendContentError:
		r.log.Error("content cannot be rendered for this lead", "content", step.Send, "step", step.ID, "error", sent.Reason)
		if r.j.OnContentError == journeys.ContentErrorSkip {
			res.outcome = "skipped: content error: " + sent.Reason
			return nil
		}
		return r.exit(ExitContentError)
	}
	return nil
}

func (r *run) stepWait(step journeys.Step, res *stepResult) error {
	res.waited = true
	_, err := r.wait(r.after(step.Wait.Value()), nil, false)
	return err
}

func (r *run) stepWaitUntil(step journeys.Step, res *stepResult) error {
	res.waited = true
	u := step.WaitUntil
	_, err := r.wait(func() time.Time {
		now := r.journeyNow().In(r.location())
		at := r.j.SendWindow.NextOpen(now)
		if !u.SendWindow {
			at, _ = journeys.ParseDate(u.Date, r.location())
		}
		return r.realAt(at)
	}, nil, false)
	return err
}

func (r *run) stepWaitFor(step journeys.Step, res *stepResult) error {
	res.waited = true
	w := step.WaitFor
	got, err := r.wait(r.after(w.Timeout.Value()), w.Events, false)
	if err != nil {
		return err
	}
	switch to, branch := w.On[got.event]; {
	case got.interrupted:
		// A hand-off (or an exit) ended the wait, not its timeout.
		res.outcome, res.next = "interrupted: "+string(r.st.Lifecycle), cmp.Or(w.OnTimeout, res.next)
	case got.event != "" && branch:
		res.outcome, res.next = "got "+string(got.event), to
	case got.event != "":
		res.outcome, res.next = "got "+string(got.event), cmp.Or(w.OnEvent, res.next)
	default:
		res.outcome, res.next = "timed out", cmp.Or(w.OnTimeout, res.next)
	}
	return nil
}

func (r *run) stepTask(step journeys.Step, res *stepResult) error {
	res.waited = true
	result, to, err := r.task(step)
	if err != nil {
		return err
	}
	res.outcome = result
	if to != "" {
		res.next = to
	}
	return nil
}

func (r *run) stepBranch(step journeys.Step, res *stepResult) error {
	res.next, res.outcome = step.Branch.Otherwise, "otherwise"
	for i, c := range step.Branch.Cases {
		if r.holds(c.When) {
			res.next, res.outcome = c.Goto, fmt.Sprintf("case %d", i+1)
			break
		}
	}
	return nil
}

func (r *run) stepAdjustScore(step journeys.Step, _ *stepResult) error {
	r.st.Scoring.Adjust("step:"+step.ID, *step.AdjustScore)
	return r.rescored("adjusted by step " + step.ID)
}

func (r *run) stepSetStage(step journeys.Step, _ *stepResult) error {
	r.st.BuyingStage = step.SetStage
	return r.progress(progress.Stage, "stage set to "+step.SetStage)
}

func (r *run) stepHandoff(step journeys.Step, _ *stepResult) error {
	reason := "journey step " + step.ID
	if step.Handoff.Note != "" {
		reason += ": " + step.Handoff.Note
	}
	return r.handoff(reason)
}

func (r *run) stepGoto(step journeys.Step, res *stepResult) error {
	res.next = step.Goto
	return nil
}

func (r *run) stepExit(step journeys.Step, _ *stepResult) error {
	return r.exit(ExitReason(step.Exit))
}

// key is the idempotency key of a side effect of the current visit to a
// step: workflow, enrolment, step, occurrence.
func (r *run) key(stepID string) string {
	return fmt.Sprintf("%s/%s/%s/%d", workflow.GetInfo(r.ctx).WorkflowExecution.ID, r.st.Enrollment, stepID, r.st.Occurrences[stepID])
}

func (r *run) journeyRef() activities.JourneyRef {
	return activities.JourneyRef{ID: r.st.JourneyID, Version: r.st.JourneyVersion}
}

func (r *run) send(step journeys.Step) (activities.SendResult, error) {
	var res activities.SendResult
	req := activities.SendRequest{Key: r.key(step.ID), Lead: r.st.Lead, Journey: r.journeyRef(), StepID: step.ID, ContentID: step.Send, TimeScale: r.st.TimeScale}
	if err := workflow.ExecuteActivity(r.sendOptions(), r.acts.SendContent, req).Get(r.ctx, &res); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeTemplate {
			// How workers before content errors became results said it.
			return activities.SendResult{Status: activities.SendContentError, Reason: app.Message()}, nil
		}
		return res, fmt.Errorf("send %q at step %q: %w", step.Send, step.ID, err)
	}
	switch res.Status {
	case activities.SendSent, activities.SendDuplicate, activities.SendUnconfirmed:
		r.st.EmailsSent++
		r.sent()
	case activities.SendAmbiguous:
		// It may have arrived: count it against the frequency cap.
		r.st.Ambiguous++
		r.sent()
	}
	return res, nil
}

// versionSetStageHolds guards the rule that a set_stage holds until the
// lead enters a step of another stage.
const versionSetStageHolds = "set-stage-holds"

// task creates the step's task once, waits for its outcome or the timeout,
// records what came of it, and returns that and the step it leads to.
func (r *run) task(step journeys.Step) (string, string, error) {
	t := step.Task
	if r.st.TaskID == 0 {
		outcomes := slices.Sorted(maps.Keys(t.Outcomes))
		req := activities.TaskRequest{
			Key: r.key(step.ID), Lead: r.st.Lead, Journey: r.journeyRef(), StepID: step.ID,
			Title: t.Title, Assignee: t.Assignee, Cost: t.Cost, Outcomes: outcomes,
			Due: workflow.Now(r.ctx).Add(r.scaled(t.Timeout.Value())),
		}
		var res activities.TaskResult
		if err := workflow.ExecuteActivity(mailOptions(r.ctx), r.acts.CreateTask, req).Get(r.ctx, &res); err != nil {
			return "", "", fmt.Errorf("create task at step %q: %w", step.ID, err)
		}
		r.st.TaskID, r.st.TaskResult = res.ID, ""
	}
	res, err := r.wait(r.after(t.Timeout.Value()), nil, true)
	if err != nil {
		return "", "", err
	}
	result, to := res.outcome, t.Outcomes[res.outcome]
	switch {
	case !r.st.active():
		result = "interrupted: " + string(r.st.Lifecycle)
	case result == "":
		result, to = "timed_out", t.OnTimeout
	}
	req := activities.TaskOutcomeRequest{TaskID: r.st.TaskID, Outcome: result, Note: r.st.TaskNote}
	if err := workflow.ExecuteActivity(r.ctx, r.acts.RecordTaskOutcome, req).Get(r.ctx, nil); err != nil {
		return "", "", fmt.Errorf("record task outcome: %w", err)
	}
	r.st.TaskID, r.st.TaskResult, r.st.TaskNote = 0, "", ""
	return result, to, nil
}

func (r *run) holds(c journeys.Condition) bool {
	total := r.st.Score.Total()
	if c.ScoreAtLeast != nil && total < *c.ScoreAtLeast {
		return false
	}
	if c.ScoreBelow != nil && total >= *c.ScoreBelow {
		return false
	}
	if len(c.Engaged) > 0 {
		any := false
		for _, t := range c.Engaged {
			if r.st.EventCounts[t] > 0 {
				any = true
			}
		}
		if !any {
			return false
		}
	}
	if c.Stage != "" && r.st.BuyingStage != c.Stage {
		return false
	}
	if c.Field != nil && !containsFold(c.Field.OneOf, r.st.Lead.Field(c.Field.Name)) {
		return false
	}
	return true
}

func contains(xs []lead.EventType, t lead.EventType) bool {
	for _, x := range xs {
		if x == t {
			return true
		}
	}
	return false
}

func containsFold(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
