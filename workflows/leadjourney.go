package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
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
			Enrollment: enrollmentID(workflow.GetInfo(ctx)), Lifecycle: LifecycleNurturing,
			Occurrences: map[string]int{}, EventCounts: map[lead.EventType]int{},
		}
	}
	for _, id := range r.st.RecentIDs {
		r.seen[id] = true
	}
	r.pending, r.feedback, r.enrolls = r.st.Pending, r.st.Feedback, r.st.Enrolls
	r.st.Pending, r.st.Feedback, r.st.Enrolls = nil, nil, nil

	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return r.st.status(), nil }); err != nil {
		return Result{}, fmt.Errorf("register status query: %w", err)
	}
	r.listen()

	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
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
	r.ctx = ctx

	var loaded activities.LoadedJourney
	ref := activities.JourneyRef{ID: r.st.JourneyID, Version: r.st.JourneyVersion}
	if err := workflow.ExecuteActivity(ctx, (*activities.Activities)(nil).LoadJourney, r.st.Lead.ID, ref).Get(ctx, &loaded); err != nil {
		return Result{}, fmt.Errorf("load journey %q version %d: %w", ref.ID, ref.Version, err)
	}
	r.j = loaded.Journey
	r.st.JourneyVersion = loaded.Version

	if r.st.Step == "" && r.st.Lifecycle == LifecycleNurturing && len(r.st.History) == 0 {
		first, ok := r.j.FirstStep(in.StartStage)
		if !ok {
			first, _ = r.j.FirstStep("")
		}
		r.st.Step = first
		if err := r.progress("enrolled in " + r.j.ID); err != nil {
			return Result{}, err
		}
	}
	return r.loop()
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

	engagement, feedbackCh, enrollCh workflow.ReceiveChannel
}

// listen starts the signal handlers; they only record.
func (r *run) listen() {
	r.engagement = workflow.GetSignalChannel(r.ctx, SignalEngagement)
	r.feedbackCh = workflow.GetSignalChannel(r.ctx, SignalSalesFeedback)
	r.enrollCh = workflow.GetSignalChannel(r.ctx, SignalEnroll)
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
			sel.Select(ctx)
		}
	})
}

func (r *run) hasMessages() bool {
	return len(r.pending) > 0 || len(r.feedback) > 0 || len(r.enrolls) > 0
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

// continueAsNew hands the state to a fresh run after draining the signals
// that arrived and letting handlers finish, so no message is lost.
func (r *run) continueAsNew() error {
	if err := workflow.Await(r.ctx, func() bool { return workflow.AllHandlersFinished(r.ctx) }); err != nil {
		return err
	}
	for {
		var ev lead.Event
		if !r.engagement.ReceiveAsync(&ev) {
			break
		}
		r.pending = append(r.pending, ev)
	}
	for {
		var fb SalesFeedback
		if !r.feedbackCh.ReceiveAsync(&fb) {
			break
		}
		r.feedback = append(r.feedback, fb)
	}
	for {
		var en Enrollment
		if !r.enrollCh.ReceiveAsync(&en) {
			break
		}
		r.enrolls = append(r.enrolls, en)
	}
	st := r.st
	st.Pending, st.Feedback, st.Enrolls = r.pending, r.feedback, r.enrolls
	return workflow.NewContinueAsNewError(r.ctx, LeadJourney, Input{
		Lead: st.Lead, JourneyID: st.JourneyID, JourneyVersion: st.JourneyVersion, TimeScale: st.TimeScale, Carried: &st,
	})
}

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
		r.st.WaitUntil = 0
		if loc.Stage != r.st.BuyingStage {
			r.st.BuyingStage = loc.Stage
			if err := r.progress("entered stage " + loc.Stage); err != nil {
				return false, err
			}
		}
	}
	next := r.j.After(step.ID)
	outcome := ""
	waited := false
	switch step.Kind() {
	case "send":
		res, err := r.send(step)
		if err != nil {
			return false, err
		}
		outcome = res.Status
		switch res.Status {
		case activities.SendSuppressed:
			r.exit("suppressed: " + res.Reason)
		case activities.SendRejected:
			r.exit("address rejected")
		}
	case "wait":
		waited = true
		if _, err := r.wait(step.Wait.Value(), nil); err != nil {
			return true, err
		}
	case "wait_for":
		waited = true
		w := step.WaitFor
		got, err := r.wait(w.Timeout.Value(), w.Events)
		if err != nil {
			return true, err
		}
		if got != "" {
			outcome = "got " + string(got)
			if w.OnEvent != "" {
				next = w.OnEvent
			}
		} else {
			outcome = "timed out"
			if w.OnTimeout != "" {
				next = w.OnTimeout
			}
		}
	case "branch":
		next = step.Branch.Otherwise
		outcome = "otherwise"
		for i, c := range step.Branch.Cases {
			if r.holds(c.When) {
				next, outcome = c.Goto, fmt.Sprintf("case %d", i+1)
				break
			}
		}
	case "adjust_score":
		r.st.Score.Adjust("step:"+step.ID, *step.AdjustScore)
		if err := r.rescored("adjusted by step " + step.ID); err != nil {
			return false, err
		}
	case "set_stage":
		r.st.BuyingStage = step.SetStage
		if err := r.progress("stage set to " + step.SetStage); err != nil {
			return false, err
		}
	case "handoff":
		reason := "journey step " + step.ID
		if step.Handoff.Note != "" {
			reason += ": " + step.Handoff.Note
		}
		if err := r.handoff(reason); err != nil {
			return false, err
		}
	case "goto":
		next = step.Goto
	case "exit":
		r.exit(step.Exit)
	}
	r.st.record(StepRecord{Step: step.ID, Kind: step.Kind(), Stage: loc.Stage, At: workflow.Now(r.ctx).UTC().Format(time.RFC3339), Outcome: outcome})
	if !r.st.active() {
		// A hand-off or an exit during the step: the loop takes it from here.
		if r.st.Lifecycle == LifecycleHandedOff {
			r.st.Step, r.st.Entered = next, false
		}
		return waited, nil
	}
	r.st.Step, r.st.Entered = next, false
	return waited, nil
}

func (r *run) send(step journeys.Step) (activities.SendResult, error) {
	var res activities.SendResult
	key := fmt.Sprintf("%s/%s/%s/%d", workflow.GetInfo(r.ctx).WorkflowExecution.ID, r.st.Enrollment, step.ID, r.st.Occurrences[step.ID])
	req := activities.SendRequest{
		Key: key, Lead: r.st.Lead, Journey: activities.JourneyRef{ID: r.st.JourneyID, Version: r.st.JourneyVersion},
		StepID: step.ID, ContentID: step.Send,
	}
	if err := workflow.ExecuteActivity(r.ctx, r.acts.SendContent, req).Get(r.ctx, &res); err != nil {
		return res, fmt.Errorf("send %q at step %q: %w", step.Send, step.ID, err)
	}
	if res.Status == activities.SendSent || res.Status == activities.SendDuplicate || res.Status == activities.SendUnconfirmed {
		r.st.EmailsSent++
	}
	return res, nil
}

// scaled turns journey time into workflow time.
func (r *run) scaled(d time.Duration) time.Duration {
	if r.st.TimeScale <= 1 {
		return d
	}
	s := time.Duration(float64(d) / r.st.TimeScale)
	if s < time.Millisecond {
		s = time.Millisecond
	}
	return s
}

// wait waits for journey time d, or until one of the events in want
// arrives (it returns that event's type). Engagement is handled as it comes;
// a hand-off or exit ends the wait early. The deadline is kept in the state,
// so a run continued as new waits only for what is left.
func (r *run) wait(d time.Duration, want []lead.EventType) (lead.EventType, error) {
	if r.st.WaitUntil == 0 {
		r.st.WaitUntil = workflow.Now(r.ctx).Add(r.scaled(d)).UnixMilli()
	}
	deadline := time.UnixMilli(r.st.WaitUntil)
	if got := r.st.Matched; got != "" && contains(want, got) {
		r.st.Matched = ""
		return got, nil
	}
	r.st.Matched = ""
	for {
		got, err := r.handleMessagesFor(want)
		if err != nil || got != "" || !r.st.active() {
			return got, err
		}
		if r.canSuggested() {
			return "", errContinueAsNew
		}
		left := deadline.Sub(workflow.Now(r.ctx))
		if left <= 0 {
			return "", nil
		}
		if _, err := workflow.AwaitWithTimeout(r.ctx, left, func() bool { return r.hasMessages() || r.canSuggested() }); err != nil {
			return "", err
		}
	}
}

// awaitVerdict waits, as long as it takes, for sales to answer the hand-off.
func (r *run) awaitVerdict() error {
	for r.st.Lifecycle == LifecycleHandedOff {
		if err := r.handleMessages(); err != nil {
			return err
		}
		if r.st.Lifecycle != LifecycleHandedOff {
			return nil
		}
		if r.canSuggested() {
			return errContinueAsNew
		}
		if err := workflow.Await(r.ctx, func() bool { return r.hasMessages() || r.canSuggested() }); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) handleMessages() error {
	_, err := r.handleMessagesFor(nil)
	return err
}

// handleMessagesFor acts on everything received: enrolments, engagement
// (deduplicated, scored, persisted, checked against exit and hand-off
// rules) and sales verdicts. It reports the first new event whose type is in
// want.
func (r *run) handleMessagesFor(want []lead.EventType) (lead.EventType, error) {
	var got lead.EventType
	for r.hasMessages() {
		for len(r.enrolls) > 0 {
			en := r.enrolls[0]
			r.enrolls = r.enrolls[1:]
			r.mergeProfile(en.Lead)
		}
		if len(r.pending) > 0 {
			events := r.pending
			r.pending = nil
			g, err := r.engage(events, want)
			if err != nil {
				return got, err
			}
			if got == "" {
				got = g
			}
		}
		for len(r.feedback) > 0 {
			fb := r.feedback[0]
			r.feedback = r.feedback[1:]
			if err := r.verdict(fb); err != nil {
				return got, err
			}
		}
	}
	return got, nil
}

func (r *run) mergeProfile(p lead.Profile) {
	cur := &r.st.Lead
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&cur.FirstName, p.FirstName}, {&cur.LastName, p.LastName}, {&cur.Company, p.Company},
		{&cur.Title, p.Title}, {&cur.TimeZone, p.TimeZone},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	for _, k := range sortedKeys(p.Fields) {
		if cur.Fields == nil {
			cur.Fields = map[string]string{}
		}
		cur.Fields[k] = p.Fields[k]
	}
}

func (r *run) engage(events []lead.Event, want []lead.EventType) (lead.EventType, error) {
	var got lead.EventType
	var types []string
	exitOn := ""
	for _, ev := range events {
		if r.seen[ev.ID] {
			continue
		}
		r.seen[ev.ID] = true
		r.st.remember(ev.ID)
		r.st.EventsSeen++
		r.st.EventCounts[ev.Type]++
		r.j.Scoring.Apply(&r.st.Score, ev)
		types = append(types, string(ev.Type))
		if got == "" && contains(want, ev.Type) {
			got = ev.Type
		}
		if exitOn == "" && contains(r.j.ExitOn, ev.Type) {
			exitOn = string(ev.Type)
		}
	}
	if len(types) == 0 || r.st.finished() {
		// Nothing new, or the journey is over: counted, but no rescore.
		return got, nil
	}
	if exitOn != "" {
		r.exit(exitOn)
		return got, nil
	}
	return got, r.rescored(strings.Join(types, ", "))
}

// rescored moves the lifecycle on after the score changed, records the
// snapshot, and hands off when the rule holds.
func (r *run) rescored(reason string) error {
	total := r.st.Score.Total()
	if r.st.Lifecycle == LifecycleNurturing && r.j.Scoring.MQL > 0 && total >= r.j.Scoring.MQL {
		r.st.Lifecycle = LifecycleMQL
		reason += "; became MQL"
	}
	if err := r.progress(reason); err != nil {
		return err
	}
	if r.st.active() && total >= r.j.Handoff.MinScore {
		return r.handoff(fmt.Sprintf("score %d reached the hand-off score %d", total, r.j.Handoff.MinScore))
	}
	return nil
}

func (r *run) handoff(reason string) error {
	r.st.Handoffs++
	req := activities.HandOffRequest{
		Key:  fmt.Sprintf("%s/%s/handoff/%d", workflow.GetInfo(r.ctx).WorkflowExecution.ID, r.st.Enrollment, r.st.Handoffs),
		Lead: r.st.Lead, Journey: activities.JourneyRef{ID: r.st.JourneyID, Version: r.st.JourneyVersion},
		Score: r.st.Score, Reason: reason, SalesEmail: r.j.Handoff.SalesEmail,
	}
	var res activities.HandOffResult
	if err := workflow.ExecuteActivity(r.ctx, r.acts.HandOff, req).Get(r.ctx, &res); err != nil {
		return fmt.Errorf("hand off: %w", err)
	}
	r.st.HandoffID = res.ID
	r.st.Lifecycle = LifecycleHandedOff
	return r.progress("handed off: " + reason)
}

func (r *run) verdict(fb SalesFeedback) error {
	if r.st.Lifecycle != LifecycleHandedOff || (fb.HandoffID != 0 && fb.HandoffID != r.st.HandoffID) {
		r.log.Warn("ignoring a verdict for no open hand-off", "verdict", fb.Verdict, "handoff", fb.HandoffID)
		return nil
	}
	req := activities.VerdictRequest{HandoffID: r.st.HandoffID, Verdict: fb.Verdict, Reason: fb.Reason}
	if err := workflow.ExecuteActivity(r.ctx, r.acts.RecordVerdict, req).Get(r.ctx, nil); err != nil {
		return fmt.Errorf("record verdict: %w", err)
	}
	switch fb.Verdict {
	case VerdictAccepted:
		r.st.Lifecycle = LifecycleSQL
	case VerdictRejected:
		r.st.Lifecycle = LifecycleDisqualified
		r.st.ExitReason = "rejected by sales"
	case VerdictRecycle:
		r.st.Lifecycle = LifecycleNurturing
		stage := ""
		if rc := r.j.Recycle; rc != nil {
			stage = rc.Stage
			if !rc.KeepScore {
				r.st.Score = r.st.Score.Reset()
			}
		} else {
			r.st.Score = r.st.Score.Reset()
		}
		r.st.Step, _ = r.j.FirstStep(stage)
		r.st.Entered = false
	default:
		return nil
	}
	return r.progress("sales verdict: " + fb.Verdict)
}

func (r *run) exit(reason string) {
	r.st.Lifecycle = LifecycleExited
	r.st.ExitReason = reason
	if err := r.progress("exited: " + reason); err != nil {
		r.log.Error("could not record exit", "error", err)
	}
}

// progress stores a snapshot of score, stage and lifecycle. It is a local
// activity: a short database write that runs inside the workflow task, with
// no round trip through the server, which roughly doubles the engagement a
// worker processes (see the README's benchmark). The (enrolment, seq) key
// makes a retried write land once.
func (r *run) progress(reason string) error {
	r.st.ProgressSeq++
	snap := store.Snapshot{
		LeadID: r.st.Lead.ID, Enrollment: r.st.Enrollment, Seq: r.st.ProgressSeq,
		JourneyID: r.st.JourneyID, Version: r.st.JourneyVersion,
		Score: r.st.Score, Lifecycle: r.st.Lifecycle, BuyingStage: r.st.BuyingStage,
		Reason: reason, At: workflow.Now(r.ctx),
	}
	ctx := workflow.WithLocalActivityOptions(r.ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	if err := workflow.ExecuteLocalActivity(ctx, r.acts.RecordProgress, snap).Get(ctx, nil); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	return nil
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
