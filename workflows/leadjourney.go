package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
)

// maxStepsWithoutWait stops a journey whose steps loop without ever waiting;
// validation rejects such journeys, this is the last line of defence.
const maxStepsWithoutWait = 200

// errContinueAsNew unwinds a wait when Temporal suggests a fresh run.
var errContinueAsNew = errors.New("continue as new")

// LeadJourney is one lead's journey: it interprets the lead's pinned journey
// version step by step, rescoring on every engagement, and hands the lead to
// sales the moment the hand-off rule holds.
//
// Signal handlers only record; the main loop acts. So engagement that
// arrives during a send or a wait is scored as soon as the loop is free, and
// a hand-off triggered by it interrupts whatever wait the lead was in.
func LeadJourney(ctx workflow.Context, in Input) (Result, error) {
	r := &run{ctx: ctx, log: workflow.GetLogger(ctx), seen: map[string]bool{}}
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
	r.pending, r.feedback, r.enrolls, r.outcomes = r.st.Pending, r.st.Feedback, r.st.Enrolls, r.st.Outcomes
	r.st.Pending, r.st.Feedback, r.st.Enrolls, r.st.Outcomes = nil, nil, nil, nil

	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return r.st.status(), nil }); err != nil {
		return Result{}, fmt.Errorf("register status query: %w", err)
	}
	r.listen()

	r.ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			// Keep retrying through an outage of PostgreSQL or SMTP: a lead
			// waits, it is not lost.
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeTemplate, activities.ErrTypeJourneyNotFound},
		},
	})

	if err := r.load(r.st.JourneyID, r.st.JourneyVersion); err != nil {
		return Result{}, err
	}
	if r.st.Step == "" && r.st.Lifecycle == LifecycleNurturing && len(r.st.History) == 0 {
		first, ok := r.j.FirstStep(in.StartStage)
		if !ok {
			first, _ = r.j.FirstStep("")
		}
		r.st.Step = first
		r.evaluate() // the fit score counts from the start
		if err := r.progress("enrolled in " + r.j.ID); err != nil {
			return Result{}, err
		}
	}
	return r.loop()
}

// load loads and pins a journey version (0: the latest).
func (r *run) load(id string, version int) error {
	var loaded activities.LoadedJourney
	ref := activities.JourneyRef{ID: id, Version: version}
	if err := workflow.ExecuteActivity(r.ctx, r.acts.LoadJourney, r.st.Lead.ID, ref).Get(r.ctx, &loaded); err != nil {
		return fmt.Errorf("load journey %q version %d: %w", id, version, err)
	}
	r.j = loaded.Journey
	r.st.JourneyID, r.st.JourneyVersion = id, loaded.Version
	return nil
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
	feedback []SalesFeedback
	enrolls  []Enrollment
	outcomes []TaskOutcome

	engagement, feedbackCh, enrollCh, outcomeCh workflow.ReceiveChannel
}

// listen starts the signal handlers; they only record.
func (r *run) listen() {
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
				r.feedback = append(r.feedback, fb)
			})
			sel.AddReceive(r.enrollCh, func(c workflow.ReceiveChannel, _ bool) {
				var en Enrollment
				c.Receive(ctx, &en)
				r.enrolls = append(r.enrolls, en)
			})
			sel.AddReceive(r.outcomeCh, func(c workflow.ReceiveChannel, _ bool) {
				var o TaskOutcome
				c.Receive(ctx, &o)
				r.outcomes = append(r.outcomes, o)
			})
			sel.Select(ctx)
		}
	})
}

func (r *run) hasMessages() bool {
	return len(r.pending) > 0 || len(r.feedback) > 0 || len(r.enrolls) > 0 || len(r.outcomes) > 0
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
			return Result{}, err
		}
		if got != "" {
			r.st.Matched = got
		}
		if r.st.active() && r.overdue() {
			r.exit("max_duration")
		}
		if err := r.cooled(); err != nil {
			return Result{}, err
		}
		if r.st.finished() {
			return r.result(), nil
		}
		if r.canSuggested() {
			return Result{}, r.continueAsNew()
		}
		if r.st.Lifecycle == LifecycleHandedOff {
			if err := r.awaitVerdict(); err != nil {
				return r.unwind(err)
			}
			stepsWithoutWait = 0
			continue
		}
		if r.st.Step == "" {
			r.exit("completed")
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
			r.exit("loop_without_wait")
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
		return Result{}, r.continueAsNew()
	}
	return Result{}, err
}

func (r *run) result() Result {
	return Result{Lifecycle: r.st.Lifecycle, ExitReason: r.st.ExitReason, Score: r.st.Score.Total()}
}

// continueAsNew hands the state to a fresh run after letting handlers
// finish and draining the signals that arrived, so no message is lost.
func (r *run) continueAsNew() error {
	if err := workflow.Await(r.ctx, func() bool { return workflow.AllHandlersFinished(r.ctx) }); err != nil {
		return err
	}
	drain(r.engagement, &r.pending)
	drain(r.feedbackCh, &r.feedback)
	drain(r.enrollCh, &r.enrolls)
	drain(r.outcomeCh, &r.outcomes)
	st := r.st
	st.Pending, st.Feedback, st.Enrolls, st.Outcomes = r.pending, r.feedback, r.enrolls, r.outcomes
	return workflow.NewContinueAsNewError(r.ctx, LeadJourney, Input{
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
