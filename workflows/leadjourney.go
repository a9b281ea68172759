package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
)

// maxStepsWithoutWait stops a journey whose steps loop without ever waiting;
// validation rejects such journeys, this is the last line of defence.
const maxStepsWithoutWait = 200

// forever bounds retries that must outlast any outage: a local activity's
// retries stop at its schedule-to-close timeout, which otherwise defaults
// to its start-to-close timeout (10 s).
const forever = 10 * 365 * 24 * time.Hour

// Retry intervals of every activity: quick at first, then at most this far
// apart, however long a dependency is away.
const maxRetryInterval = time.Minute

// errContinueAsNew unwinds a wait when Temporal suggests a fresh run.
var errContinueAsNew = errors.New("continue as new")

// LeadJourney is one lead's journey: it interprets the lead's pinned journey
// version step by step, rescoring on every engagement, and hands the lead to
// sales the moment the hand-off rule holds.
//
// Signal and update handlers only record; the main loop acts. So engagement
// that arrives during a send or a wait is scored as soon as the loop is
// free, and a hand-off triggered by it interrupts whatever wait the lead
// was in.
//
// A journey never fails because a dependency is down: every activity
// retries until PostgreSQL, SMTP or the CRM answer again, and the lead waits
// where it is. A dead end that no retry can mend (content that cannot be
// rendered for this lead, a step missing from the journey) ends the journey
// with an exit reason that PostgreSQL records too, rather than failing the
// workflow and leaving the two to disagree.
func LeadJourney(ctx workflow.Context, in Input) (Result, error) {
	r := &run{ctx: ctx, log: workflow.GetLogger(ctx), seen: map[string]bool{}}
	// First, before any command: a run recorded before the engine version
	// replays without it.
	r.engine = workflow.GetVersion(ctx, versionEngine, workflow.DefaultVersion, engineVersion)
	if in.Carried != nil {
		r.st = *in.Carried
	} else {
		r.st = State{
			Lead: in.Lead, JourneyID: in.JourneyID, JourneyVersion: in.JourneyVersion, TimeScale: in.TimeScale,
			Enrollment: enrollmentID(workflow.GetInfo(ctx)), StartedAt: workflow.Now(ctx).UnixMilli(),
			Lifecycle: LifecycleNurturing, Occurrences: map[string]int{}, EventCounts: map[lead.EventType]int{},
		}
	}
	for _, id := range r.st.RecentIDs {
		r.seen[id] = true
	}
	r.pending, r.enrolls = r.st.Pending, r.st.Enrolls
	for _, fb := range r.st.Feedback {
		r.feedback = append(r.feedback, feedbackMsg{fb: fb})
	}
	for _, o := range r.st.Outcomes {
		r.outcomes = append(r.outcomes, outcomeMsg{o: o})
	}
	r.st.Pending, r.st.Feedback, r.st.Enrolls, r.st.Outcomes = nil, nil, nil, nil

	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return r.st.status(), nil }); err != nil {
		return Result{}, fmt.Errorf("register status query: %w", err)
	}
	if err := r.listen(); err != nil {
		return Result{}, err
	}
	if r.engine >= 1 {
		r.publishLater()
	}

	r.ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			// No maximum attempts and no schedule-to-close timeout: an
			// outage of any length makes the lead wait, never fail.
			MaximumInterval:        maxRetryInterval,
			NonRetryableErrorTypes: []string{activities.ErrTypeTemplate, activities.ErrTypeJourneyNotFound},
		},
	})

	res, err := r.start(in)
	if err == nil || !deadEnd(err) {
		return res, err
	}
	// A dead end: no retry can mend it. End the journey with a reason the
	// database and an operator can see, instead of failing the workflow.
	r.log.Error("the journey cannot go on; ending it", "step", r.st.Step, "error", err)
	r.st.Lifecycle, r.st.ExitReason = LifecycleExited, ExitError
	if perr := r.progress(progress.Exited, "exited: error: "+err.Error()); perr != nil {
		return Result{}, errors.Join(err, perr)
	}
	return r.complete()
}

// deadEnd reports whether err is one that retrying cannot mend.
func deadEnd(err error) bool {
	var app *temporal.ApplicationError
	var canceled *temporal.CanceledError
	var can *workflow.ContinueAsNewError
	if errors.As(err, &canceled) || errors.As(err, &can) {
		return false
	}
	return errors.As(err, &app) && app.NonRetryable()
}

func (r *run) start(in Input) (Result, error) {
	if r.j.ID == "" {
		if err := r.load(r.st.JourneyID, r.st.JourneyVersion); err != nil {
			return Result{}, err
		}
	}
	if r.st.Step == "" && r.st.Lifecycle == LifecycleNurturing && len(r.st.History) == 0 {
		first, ok := r.j.FirstStep(in.StartStage)
		if !ok {
			first, _ = r.j.FirstStep("")
		}
		r.st.Step = first
		r.evaluate() // the fit score counts from the start
		if err := r.progress(progress.Enrolled, "enrolled in "+r.j.ID); err != nil {
			return Result{}, err
		}
	}
	return r.loop()
}

// load loads and pins a journey version (0: the latest).
func (r *run) load(id string, version int) error {
	var loaded activities.LoadedJourney
	ref := activities.JourneyRef{ID: id, Version: version}
	var f workflow.Future
	if !r.has(versionLoadLocal) {
		f = workflow.ExecuteActivity(r.ctx, r.acts.LoadJourney, r.st.Lead.ID, ref)
	} else {
		f = workflow.ExecuteLocalActivity(r.local(), r.acts.LoadJourney, r.st.Lead.ID, ref)
	}
	if err := f.Get(r.ctx, &loaded); err != nil {
		return fmt.Errorf("load journey %q version %d: %w", id, version, err)
	}
	r.j = loaded.Journey
	r.st.JourneyID, r.st.JourneyVersion = id, loaded.Version
	return nil
}

// versionEngine is the one version marker a run records. Each change to
// the workflow's commands once had a marker of its own, and the SDK
// records every marker with an upsert of the TemporalChangeVersion search
// attribute: a write of Temporal's visibility store for each, in every run
// (five at each enrolment). A run records the engine version it was
// started with, which stands for every change made up to it (see has and
// engineSince).
const versionEngine = "engine"

// engineVersion is the engine version new runs record.
const engineVersion workflow.Version = 1

// has reports whether this run has a change to its commands: a run that
// recorded an engine version has the changes that version brought and
// those before it (engineSince); a run recorded before the engine marker
// asks the change's own marker, as it was recorded then.
func (r *run) has(change string) bool {
	if r.engine >= 1 {
		return r.engine >= engineSince(change)
	}
	return workflow.GetVersion(r.ctx, change, workflow.DefaultVersion, 1) == 1
}

// engineSince is the engine version that brought a change. A change comes
// with the next engine version (and engineVersion moves to it): runs that
// recorded an earlier one keep their branch, and take the change when they
// next continue as new.
func engineSince(change string) workflow.Version {
	switch change {
	case versionSearchAttributes, versionNoticeApart, versionCRMHook, versionCapAcrossJourneys,
		versionSetStageHolds, versionSendQueue, versionLoadLocal, versionOneTimer, versionScoreInTens:
		return 1
	}
	panic(fmt.Sprintf("change %q has no engine version: add it to engineSince", change))
}

// versionLoadLocal guards the journey's load as a local activity: one
// read of PostgreSQL inside the workflow task, where a regular activity
// took a round trip through the server, a workflow task more and three
// history events more, on every enrolment and every run.
const versionLoadLocal = "load-journey-local"

// local is the context of the local activities: short reads and writes of
// PostgreSQL, retried for as long as it is away (the lead waits
// meanwhile); a dead end (a journey that is gone) is not retried.
func (r *run) local() workflow.Context {
	return workflow.WithLocalActivityOptions(r.ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: forever,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: maxRetryInterval,
			NonRetryableErrorTypes: []string{activities.ErrTypeTemplate, activities.ErrTypeJourneyNotFound},
		},
	})
}

// enrollmentID names this enrolment in send keys: the first run of the
// continue-as-new chain, which a re-enrolment after the journey ended does
// not share. (The SDK's test environment leaves FirstRunID empty.)
func enrollmentID(info *workflow.Info) string {
	if info.FirstRunID != "" {
		return info.FirstRunID
	}
	return info.WorkflowExecution.RunID
}

type run struct {
	// acts names activities, typed; it is nil and never called.
	acts *activities.Activities
	ctx  workflow.Context
	log  log.Logger
	j    journeys.Journey
	st   State

	seen     map[string]bool
	pending  []lead.Event
	feedback []feedbackMsg
	enrolls  []Enrollment
	outcomes []outcomeMsg
	removals []removalMsg
	// migrations wait for the main loop's next safe point; migrated is
	// set when one moved the lead during the current step.
	migrations []migrationMsg
	migrated   bool
	// migrating is set while a migration is carried out (its activities
	// run), so another is refused meanwhile.
	migrating bool
	// searched is what the search attributes say.
	searched searchValues
	// engine is this run's engine version (see has).
	engine workflow.Version
	// writing counts progress writes under way; unpublished is set when
	// one changed what publish has not yet published (publishLater).
	writing     int
	unpublished bool
	// notices counts hand-off notices still being mailed; the run does
	// not end or continue as new before they are done.
	notices int

	engagement, feedbackCh, enrollCh, outcomeCh workflow.ReceiveChannel
}

// answer is how the main loop tells an Update handler what became of the
// message it recorded.
type answer struct {
	done    bool
	err     error
	verdict VerdictResult
	task    TaskOutcomeResult
	removal RemovalResult
	// migration is filled by migrate.
	migration MigrationResult
}

func (a *answer) give(err error) {
	if a != nil {
		a.done, a.err = true, err
	}
}

type removalMsg struct {
	m   Removal
	ans *answer
}

type feedbackMsg struct {
	fb  SalesFeedback
	ans *answer // nil for a signal
}

type outcomeMsg struct {
	o   TaskOutcome
	ans *answer
}

// listen registers the message handlers; they only record.
func (r *run) listen() error {
	r.engagement = workflow.GetSignalChannel(r.ctx, SignalEngagement)
	r.feedbackCh = workflow.GetSignalChannel(r.ctx, SignalSalesFeedback)
	r.enrollCh = workflow.GetSignalChannel(r.ctx, SignalEnroll)
	r.outcomeCh = workflow.GetSignalChannel(r.ctx, SignalTaskOutcome)
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(r.engagement, func(c workflow.ReceiveChannel, _ bool) {
				var ev lead.Event
				c.Receive(ctx, &ev)
				r.pending = append(r.pending, ev)
			})
			sel.AddReceive(r.feedbackCh, func(c workflow.ReceiveChannel, _ bool) {
				var fb SalesFeedback
				c.Receive(ctx, &fb)
				r.feedback = append(r.feedback, feedbackMsg{fb: fb})
			})
			sel.AddReceive(r.enrollCh, func(c workflow.ReceiveChannel, _ bool) {
				var en Enrollment
				c.Receive(ctx, &en)
				r.enrolls = append(r.enrolls, en)
			})
			sel.AddReceive(r.outcomeCh, func(c workflow.ReceiveChannel, _ bool) {
				var o TaskOutcome
				c.Receive(ctx, &o)
				r.outcomes = append(r.outcomes, outcomeMsg{o: o})
			})
			sel.Select(ctx)
		}
	})
	err := onUpdate(r, UpdateVerdict, r.checkVerdict,
		func(fb SalesFeedback, a *answer) { r.feedback = append(r.feedback, feedbackMsg{fb: fb, ans: a}) },
		func(a *answer) VerdictResult { return a.verdict })
	if err != nil {
		return err
	}
	err = onUpdate(r, UpdateTaskOutcome, r.checkOutcome,
		func(o TaskOutcome, a *answer) { r.outcomes = append(r.outcomes, outcomeMsg{o: o, ans: a}) },
		func(a *answer) TaskOutcomeResult { return a.task })
	if err != nil {
		return err
	}
	err = onUpdate(r, UpdateRemove, r.checkRemoval,
		func(m Removal, a *answer) { r.removals = append(r.removals, removalMsg{m: m, ans: a}) },
		func(a *answer) RemovalResult { return a.removal })
	if err != nil {
		return err
	}
	return onUpdate(r, UpdateMigrate, r.checkMigration,
		func(m Migration, a *answer) { r.migrations = append(r.migrations, migrationMsg{m: m, ans: a}) },
		func(a *answer) MigrationResult { return a.migration })
}

// checkRemoval says why a lead cannot be removed now.
func (r *run) checkRemoval(m Removal) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if r.st.finished() {
		return fmt.Errorf("lead %s's journey has ended: it is %s", r.st.Lead.Email, strings.TrimSpace(string(r.st.Lifecycle)+" "+string(r.st.ExitReason)))
	}
	if len(r.removals) > 0 {
		return errors.New("a removal of this lead is being taken already")
	}
	return nil
}

// onUpdate registers an Update whose validator is check, and whose handler
// records the message for the main loop (enqueue) and answers with what
// the loop made of it.
func onUpdate[In, Out any](r *run, name string, check func(In) error, enqueue func(In, *answer), result func(*answer) Out) error {
	err := workflow.SetUpdateHandlerWithOptions(r.ctx, name,
		func(ctx workflow.Context, in In) (Out, error) {
			a := &answer{}
			enqueue(in, a)
			if err := workflow.Await(ctx, func() bool { return a.done }); err != nil {
				var zero Out
				return zero, err
			}
			return result(a), a.err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, in In) error { return check(in) }})
	if err != nil {
		return fmt.Errorf("register update %s: %w", name, err)
	}
	return nil
}

// checkVerdict says why a verdict cannot be taken now, before it is
// accepted into the workflow's history.
func (r *run) checkVerdict(fb SalesFeedback) error {
	if err := fb.Validate(); err != nil {
		return err
	}
	if r.st.Lifecycle != LifecycleHandedOff {
		why := fmt.Sprintf("lead %s has no open hand-off: it is %s", r.st.Lead.Email, r.st.Lifecycle)
		if r.st.ExitReason != "" {
			why += " (" + string(r.st.ExitReason) + ")"
		}
		return errors.New(why)
	}
	if fb.HandoffID != 0 && fb.HandoffID != r.st.HandoffID {
		return fmt.Errorf("hand-off #%d is not the open one; lead %s's open hand-off is #%d", fb.HandoffID, r.st.Lead.Email, r.st.HandoffID)
	}
	for _, m := range r.feedback {
		if m.ans != nil && !m.ans.done {
			return fmt.Errorf("a verdict (%s) on hand-off #%d is being taken already", m.fb.Verdict, r.st.HandoffID)
		}
	}
	return nil
}

// checkOutcome says why a task outcome cannot be taken now.
func (r *run) checkOutcome(o TaskOutcome) error {
	if err := o.Validate(); err != nil {
		return err
	}
	loc, ok := r.j.Step(r.st.Step)
	if r.st.TaskID == 0 || !ok || loc.Step.Task == nil {
		return fmt.Errorf("lead %s is not waiting on a task (it is at step %q, %s)", r.st.Lead.Email, r.st.Step, r.st.Lifecycle)
	}
	if o.TaskID != 0 && o.TaskID != r.st.TaskID {
		return fmt.Errorf("task #%d is not the open one; lead %s waits on task #%d", o.TaskID, r.st.Lead.Email, r.st.TaskID)
	}
	if _, known := loc.Step.Task.Outcomes[o.Outcome]; !known {
		return fmt.Errorf("task #%d (step %q) has outcomes %s, not %q", r.st.TaskID, loc.Step.ID, outcomeList(loc.Step.Task), o.Outcome)
	}
	if r.st.TaskResult != "" {
		return fmt.Errorf("task #%d was answered already (%s)", r.st.TaskID, r.st.TaskResult)
	}
	for _, m := range r.outcomes {
		if m.ans != nil && !m.ans.done {
			return fmt.Errorf("an outcome (%s) of task #%d is being taken already", m.o.Outcome, r.st.TaskID)
		}
	}
	return nil
}

func outcomeList(t *journeys.Task) string {
	return strings.Join(slices.Sorted(maps.Keys(t.Outcomes)), ", ")
}

func (r *run) hasMessages() bool {
	return len(r.pending) > 0 || len(r.feedback) > 0 || len(r.enrolls) > 0 || len(r.outcomes) > 0 || len(r.removals) > 0 || len(r.migrations) > 0
}

func (r *run) canSuggested() bool { return workflow.GetInfo(r.ctx).GetContinueAsNewSuggested() }

func (r *run) loop() (Result, error) {
	stepsWithoutWait := 0
	for {
		// Engagement that arrived while the previous step ran (a click
		// reported before the send activity finished) counts for a wait_for
		// that is about to begin.
		got, err := r.handleMessagesFor(r.upcomingWant())
		if err != nil {
			return r.unwind(err)
		}
		if got != "" {
			r.st.Matched = got
		}
		if r.st.active() && r.overdue() {
			if err := r.exit(ExitMaxDuration); err != nil {
				return Result{}, err
			}
		}
		if err := r.cooled(); err != nil {
			return r.unwind(err)
		}
		if r.st.finished() {
			return r.complete()
		}
		if r.canSuggested() {
			return r.continueAsNew()
		}
		if r.st.Lifecycle == LifecycleHandedOff {
			if err := r.awaitVerdict(); err != nil {
				return r.unwind(err)
			}
			stepsWithoutWait = 0
			continue
		}
		if r.st.Step == "" {
			if err := r.exit(ExitCompleted); err != nil {
				return Result{}, err
			}
			continue
		}
		waited, err := r.execute()
		if err != nil {
			return r.unwind(err)
		}
		if waited {
			stepsWithoutWait = 0
		} else if stepsWithoutWait++; stepsWithoutWait > maxStepsWithoutWait {
			r.log.Error("journey loops without waiting; stopping the lead", "step", r.st.Step)
			if err := r.exit(ExitLoopWithoutWait); err != nil {
				return Result{}, err
			}
		}
	}
}

// upcomingWant is what the current step waits for, if it is a wait_for.
func (r *run) upcomingWant() []lead.EventType {
	if loc, ok := r.j.Step(r.st.Step); ok && loc.Step.WaitFor != nil && r.st.active() {
		return loc.Step.WaitFor.Events
	}
	return nil
}

func (r *run) unwind(err error) (Result, error) {
	if errors.Is(err, errContinueAsNew) {
		return r.continueAsNew()
	}
	return Result{}, err
}

func (r *run) result() Result {
	return Result{Lifecycle: r.st.Lifecycle, ExitReason: r.st.ExitReason, Goal: r.st.Goal, Score: r.st.Score.Total(), BuyingStage: r.st.BuyingStage}
}

// settle answers every message received and waits for the handlers and
// the hand-off notices still at work, so nothing taken in is left
// unanswered when this run ends. An event the current wait_for wants is
// kept as matched, for the wait to see.
func (r *run) settle() error {
	for {
		got, err := r.handleMessagesFor(r.upcomingWant())
		if err != nil {
			return err
		}
		if got != "" {
			r.st.Matched = got
		}
		idle := func() bool { return workflow.AllHandlersFinished(r.ctx) && r.notices == 0 }
		if idle() && !r.hasMessages() {
			return nil
		}
		if err := workflow.Await(r.ctx, func() bool { return r.hasMessages() || idle() }); err != nil {
			return err
		}
	}
}

// complete ends a finished journey.
func (r *run) complete() (Result, error) {
	if err := r.settle(); err != nil {
		return Result{}, err
	}
	if err := r.flushPublish(); err != nil {
		return Result{}, err
	}
	return r.result(), nil
}

// continueAsNew hands the state to a fresh run after answering what
// arrived, letting handlers and notices finish and draining the signals
// that arrived, so no message is lost.
func (r *run) continueAsNew() (Result, error) {
	if err := r.settle(); err != nil {
		return Result{}, err
	}
	if err := r.flushPublish(); err != nil {
		return Result{}, err
	}
	if r.st.finished() {
		// A message taken while settling ended the journey.
		return r.result(), nil
	}
	drain(r.engagement, &r.pending)
	drain(r.enrollCh, &r.enrolls)
	var fbs []SalesFeedback
	drain(r.feedbackCh, &fbs)
	var outs []TaskOutcome
	drain(r.outcomeCh, &outs)
	st := r.st
	st.Pending, st.Enrolls, st.Feedback, st.Outcomes = r.pending, r.enrolls, fbs, outs
	return Result{}, workflow.NewContinueAsNewError(r.ctx, LeadJourney, Input{
		Lead: st.Lead, JourneyID: st.JourneyID, JourneyVersion: st.JourneyVersion, TimeScale: st.TimeScale, Carried: &st,
	})
}

func drain[T any](ch workflow.ReceiveChannel, into *[]T) {
	for {
		var v T
		if !ch.ReceiveAsync(&v) {
			return
		}
		*into = append(*into, v)
	}
}
