package workflows

import (
	"cmp"
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
// rules), sales verdicts and task outcomes. It reports the first new event whose type is in
// want.
func (r *run) handleMessagesFor(want []lead.EventType) (lead.EventType, error) {
	var got lead.EventType
	for r.hasMessages() {
		for len(r.enrolls) > 0 {
			en := r.enrolls[0]
			r.enrolls = r.enrolls[1:]
			r.mergeProfile(en.Lead)
			// A richer profile can change the fit score.
			if r.st.active() && len(r.j.Scoring.Fit) > 0 {
				if err := r.rescored("profile updated"); err != nil {
					return got, err
				}
			}
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
			m := r.feedback[0]
			r.feedback = r.feedback[1:]
			if err := r.verdict(m); err != nil {
				m.ans.give(err)
				return got, err
			}
		}
		for len(r.outcomes) > 0 {
			m := r.outcomes[0]
			r.outcomes = r.outcomes[1:]
			r.taskOutcome(m)
		}
		for len(r.migrations) > 0 {
			m := r.migrations[0]
			r.migrations = r.migrations[1:]
			if err := r.migrate(m); err != nil {
				m.ans.give(err)
				return got, err
			}
		}
		for len(r.removals) > 0 {
			m := r.removals[0]
			r.removals = r.removals[1:]
			if err := r.remove(m); err != nil {
				m.ans.give(err)
				return got, err
			}
		}
	}
	return got, nil
}

// remove takes the lead out of its journey, an operator's decision: it
// exits where it is, with the reason in its progress record.
func (r *run) remove(m removalMsg) error {
	if r.st.finished() {
		m.ans.give(fmt.Errorf("lead %s's journey has ended: it is %s", r.st.Lead.ID, r.st.Lifecycle))
		return nil
	}
	m.ans.removal = RemovalResult{JourneyID: r.st.JourneyID, Step: r.st.Step, Stage: r.st.BuyingStage, Lifecycle: r.st.Lifecycle}
	r.st.Lifecycle, r.st.ExitReason = LifecycleExited, ExitRemoved
	if err := r.progress(progress.Exited, "exited: "+string(ExitRemoved.With(m.m.Reason))); err != nil {
		return err
	}
	m.ans.give(nil)
	return nil
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
	for _, k := range slices.Sorted(maps.Keys(p.Fields)) {
		if cur.Fields == nil {
			cur.Fields = map[string]string{}
		}
		cur.Fields[k] = p.Fields[k]
	}
}

func (r *run) engage(events []lead.Event, want []lead.EventType) (lead.EventType, error) {
	var got lead.EventType
	var types []string
	exitOn, goal := "", ""
	for _, ev := range events {
		if r.seen[ev.ID] {
			continue
		}
		r.seen[ev.ID] = true
		r.st.remember(ev.ID)
		r.st.EventsSeen++
		r.st.EventCounts[ev.Type]++
		// The SDK's handler counts nothing while a task replays.
		workflow.GetMetricsHandler(r.ctx).WithTags(map[string]string{"type": string(ev.Type)}).Counter(MetricEventsProcessed).Inc(1)
		// Scored at the time the journey receives it, in journey time:
		// deterministic, and what decay, caps and combo windows count from.
		r.j.Scoring.Apply(&r.st.Scoring, ev, r.journeyNow())
		types = append(types, string(ev.Type))
		if got == "" && contains(want, ev.Type) {
			got = ev.Type
		}
		if exitOn == "" && contains(r.j.ExitOn, ev.Type) {
			exitOn = string(ev.Type)
		}
		if goal == "" && r.j.Goal.ReachedBy(ev.Type) {
			goal = string(ev.Type)
		}
	}
	if len(types) == 0 || r.st.finished() {
		// Nothing new, or the journey is over: counted, but no rescore.
		return got, nil
	}
	if goal != "" {
		// A goal wins over an exit in the same batch: the lead succeeded.
		return got, r.reachGoal(goal)
	}
	if exitOn != "" {
		return got, r.exit(ExitReason(exitOn))
	}
	return got, r.rescored(strings.Join(types, ", "))
}

// evaluate recomputes the score from the aggregates at the journey's now.
func (r *run) evaluate() {
	r.st.Score = r.j.Scoring.Score(r.st.Scoring, r.st.Lead, r.journeyNow())
}

// rescored moves the lifecycle on after the score changed (up to MQL, or
// back down when it cooled off), records the snapshot, and hands off when
// the hand-off rule holds.
func (r *run) rescored(reason string) error {
	r.evaluate()
	total := r.st.Score.Total()
	mql := r.j.Scoring.MQL
	kind := progress.Scored
	switch {
	case r.st.Lifecycle == LifecycleNurturing && mql > 0 && total >= mql:
		r.st.Lifecycle = LifecycleMQL
		reason += "; became MQL"
		kind = progress.MQL
	case r.st.Lifecycle == LifecycleMQL && total < mql:
		r.st.Lifecycle = LifecycleNurturing
		reason += "; fell back below MQL"
	}
	if err := r.progress(kind, reason); err != nil {
		return err
	}
	if ready, why := r.j.Handoff.Ready(r.st.Score, r.st.Lead); r.st.active() && ready {
		return r.handoff(why)
	}
	return nil
}

// cooled rescores a lead whose score decay has lowered since it was last
// recorded; called as the journey moves, so a quiet lead fades.
func (r *run) cooled() error {
	if r.j.Scoring.Decay == nil || !r.st.active() {
		return nil
	}
	before := r.st.Score.Total()
	r.evaluate()
	if r.st.Score.Total() == before {
		return nil
	}
	return r.rescored("decay")
}

func (r *run) handoff(reason string) error {
	r.st.Handoffs++
	req := activities.HandOffRequest{
		Key:  fmt.Sprintf("%s/%s/handoff/%d", workflow.GetInfo(r.ctx).WorkflowExecution.ID, r.st.Enrollment, r.st.Handoffs),
		Lead: r.st.Lead, Journey: activities.JourneyRef{ID: r.st.JourneyID, Version: r.st.JourneyVersion},
		Score: r.st.Score, Reason: reason, SalesEmail: r.j.Handoff.SalesEmail,
	}
	var res activities.HandOffResult
	if !r.has(versionNoticeApart) {
		// Recorded before the notice went apart: one activity for both.
		if err := workflow.ExecuteActivity(r.ctx, r.acts.HandOff, req).Get(r.ctx, &res); err != nil {
			return fmt.Errorf("hand off: %w", err)
		}
	} else {
		if err := workflow.ExecuteActivity(r.ctx, r.acts.RecordHandoff, req).Get(r.ctx, &res); err != nil {
			return fmt.Errorf("hand off: %w", err)
		}
		r.notifySales(req, res.ID)
		if r.has(versionCRMHook) {
			r.postToCRM(req, res.ID)
		}
	}
	r.st.HandoffID = res.ID
	r.st.Lifecycle = LifecycleHandedOff
	return r.progress(progress.HandedOff, "handed off: "+reason)
}

// versionNoticeApart guards the hand-off's split: the hand-off row is one
// activity and the email to sales another, sent beside the journey, so a
// hand-off stands (and sales can answer it) while SMTP is down.
const versionNoticeApart = "handoff-notice-apart"

// notifySales mails the hand-off notice beside the main loop: the journey
// waits for sales meanwhile, and ends or continues as new only once the
// notice is done.
func (r *run) notifySales(h activities.HandOffRequest, id int64) {
	r.beside(func(ctx workflow.Context) {
		var res activities.NoticeResult
		err := workflow.ExecuteActivity(mailOptions(ctx), r.acts.NotifySales, activities.NoticeRequest{Handoff: h, HandoffID: id}).Get(ctx, &res)
		if err != nil {
			// Only a cancelled workflow or a notice that cannot be
			// rendered gets here; the hand-off stands without it.
			r.log.Error("hand-off notice not sent", "handoff", id, "error", err)
			return
		}
		if res.Status == activities.SendAmbiguous {
			r.st.Ambiguous++
		}
	})
}

// versionCapAcrossJourneys guards the frequency cap's memory of emails
// across a recycle into another journey.
const versionCapAcrossJourneys = "cap-across-journeys"

// versionCRMHook guards the post of each hand-off to the CRM.
const versionCRMHook = "handoff-crm"

// crmGiveUp is how long a hand-off's post to the CRM is retried before the
// journey stops waiting for it (the post stays listed as failing).
const crmGiveUp = 72 * time.Hour

// postToCRM posts the hand-off to the CRM beside the main loop, retried
// with backoff through a CRM outage; like the notice, the run ends only
// once it is done. It never fails the journey: after crmGiveUp it is
// logged, and stays listed as failing.
func (r *run) postToCRM(h activities.HandOffRequest, id int64) {
	r.beside(func(ctx workflow.Context) {
		opts := workflow.GetActivityOptions(ctx)
		opts.StartToCloseTimeout = time.Minute
		opts.ScheduleToCloseTimeout = crmGiveUp
		opts.RetryPolicy = &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour}
		var res activities.CRMResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), r.acts.PostToCRM,
			activities.CRMRequest{Handoff: h, HandoffID: id, URL: r.j.Handoff.CRMURL}).Get(ctx, &res)
		if err != nil {
			r.log.Error("hand-off not posted to the CRM; gave up retrying", "handoff", id, "error", err)
		}
	})
}

// beside runs f beside the main loop, counted in notices: the run ends
// or continues as new only once it is done.
func (r *run) beside(f func(ctx workflow.Context)) {
	r.notices++
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		defer func() { r.notices-- }()
		f(ctx)
	})
}

// mailOptions are for activities that talk SMTP: the reply to a message may
// take minutes (RFC 5321 allows ten), and a worker that dies meanwhile is
// noticed by its missing heartbeats, not after the whole timeout.
func mailOptions(ctx workflow.Context) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.StartToCloseTimeout = 15 * time.Minute
	opts.HeartbeatTimeout = 20 * time.Second
	return workflow.WithActivityOptions(ctx, opts)
}

func (r *run) verdict(m feedbackMsg) error {
	fb := m.fb
	if r.st.Lifecycle != LifecycleHandedOff || (fb.HandoffID != 0 && fb.HandoffID != r.st.HandoffID) {
		r.log.Warn("ignoring a verdict for no open hand-off", "verdict", fb.Verdict, "handoff", fb.HandoffID)
		m.ans.give(fmt.Errorf("lead %s has no open hand-off %d any more (it is %s)", r.st.Lead.ID, fb.HandoffID, r.st.Lifecycle))
		return nil
	}
	id := r.st.HandoffID
	req := activities.VerdictRequest{HandoffID: id, Verdict: string(fb.Verdict), Reason: fb.Reason, Owner: fb.Owner}
	if err := workflow.ExecuteActivity(r.ctx, r.acts.RecordVerdict, req).Get(r.ctx, nil); err != nil {
		return fmt.Errorf("record verdict: %w", err)
	}
	switch fb.Verdict {
	case VerdictAccepted:
		r.st.Lifecycle = LifecycleSQL
	case VerdictRejected:
		r.st.Lifecycle = LifecycleDisqualified
		r.st.ExitReason = ExitRejected
	case VerdictRecycle:
		if err := r.recycle(); err != nil {
			return err
		}
	default:
		m.ans.give(fmt.Errorf("verdict %q: use accepted, rejected or recycle", fb.Verdict))
		return nil
	}
	if err := r.progress(progress.Verdict, "sales verdict: "+string(fb.Verdict)); err != nil {
		return err
	}
	if r.j.Goal.ReachedByVerdict(string(fb.Verdict)) {
		r.st.Goal = "verdict:" + string(fb.Verdict)
		if err := r.progress(progress.Goal, "goal reached: "+r.st.Goal); err != nil {
			return err
		}
	}
	if m.ans != nil {
		m.ans.verdict = VerdictResult{HandoffID: id, Verdict: fb.Verdict, Lifecycle: r.st.Lifecycle, JourneyID: r.st.JourneyID, Stage: r.stageOf(r.st.Step)}
		m.ans.give(nil)
	}
	return nil
}

// stageOf is the stage a step is in ("" when there is none).
func (r *run) stageOf(step string) string {
	if loc, ok := r.j.Step(step); ok {
		return loc.Stage
	}
	return ""
}

// recycle sends a lead back into nurture where the journey's recycle rule
// says: a stage of this journey, or another journey (its latest version),
// with the behaviour score reset unless the rule keeps it.
func (r *run) recycle() error {
	r.st.Lifecycle = LifecycleNurturing
	var rule journeys.RecycleRule
	if r.j.Recycle != nil {
		rule = *r.j.Recycle
	}
	if !rule.KeepScore {
		r.st.Scoring.ResetBehaviour()
		r.evaluate()
	}
	if rule.Journey != "" && rule.Journey != r.st.JourneyID {
		if err := r.load(rule.Journey, 0); err != nil {
			return err
		}
		// A new journey: its clock and its max_duration start now. Its
		// frequency cap counts the emails the lead got from the last one
		// (before versionCapAcrossJourneys, it started afresh).
		r.st.StartedAt = workflow.Now(r.ctx).UnixMilli()
		if !r.has(versionCapAcrossJourneys) {
			r.st.RecentSends = nil
		}
	}
	r.st.Step, _ = r.j.FirstStep(rule.Stage)
	// The lead enters that stage afresh, whatever stage it was in.
	r.st.Entered, r.st.StepStage = false, ""
	return nil
}

// taskOutcome takes a reported outcome for the open task. One that no
// longer fits (the task timed out meanwhile) is answered with why, or, if
// it came as a signal, logged.
func (r *run) taskOutcome(m outcomeMsg) {
	o := m.o
	if err := r.checkOutcomeNow(o); err != nil {
		// Logged without the reason, which names the lead by address.
		r.log.Warn("ignoring a task outcome that no longer fits", "task", o.TaskID, "outcome", o.Outcome, "open", r.st.TaskID)
		m.ans.give(err)
		return
	}
	r.st.TaskResult, r.st.TaskNote = o.Outcome, o.Note
	if m.ans != nil {
		loc, _ := r.j.Step(r.st.Step)
		m.ans.task = TaskOutcomeResult{TaskID: r.st.TaskID, Outcome: o.Outcome, Next: loc.Step.Task.Outcomes[o.Outcome]}
		if m.ans.task.Next == "" {
			m.ans.task.Next = r.j.After(loc.Step.ID)
		}
		m.ans.give(nil)
	}
}

// checkOutcomeNow is checkOutcome for a message being taken: its own
// pending answer does not count against it.
func (r *run) checkOutcomeNow(o TaskOutcome) error {
	saved := r.outcomes
	r.outcomes = nil
	defer func() { r.outcomes = saved }()
	return r.checkOutcome(o)
}

// reachGoal ends the journey on its goal. Only journeys that name a goal
// have one to reach, so journeys already running are not changed.
func (r *run) reachGoal(goal string) error {
	r.st.Lifecycle = LifecycleGoal
	r.st.Goal = goal
	return r.progress(progress.Goal, "goal reached: "+goal)
}

func (r *run) exit(reason ExitReason) error {
	r.st.Lifecycle = LifecycleExited
	r.st.ExitReason = reason
	return r.progress(progress.Exited, "exited: "+string(reason))
}

// progress stores a snapshot of score, stage and lifecycle. It is a local
// activity: a short database write that runs inside the workflow task, with
// no round trip through the server, which roughly doubled the engagement a
// worker processes (see the README's Performance). It retries for as long as
// PostgreSQL is away; the lead waits meanwhile. A write repeated by a
// workflow task that was lost and run again replaces what the lost one
// wrote (see package store's RecordProgress), so the stored lead follows the
// workflow's state.
func (r *run) progress(kind progress.Kind, reason string) error {
	r.st.ProgressSeq++
	snap := activities.Progress{
		Kind: kind, Step: r.st.Step,
		LeadID: r.st.Lead.ID, Enrollment: r.st.Enrollment, Seq: r.st.ProgressSeq,
		JourneyID: r.st.JourneyID, Version: r.st.JourneyVersion,
		Score: r.st.Score, Lifecycle: string(r.st.Lifecycle), BuyingStage: r.st.BuyingStage,
		Ended: r.st.finished(), ExitReason: cmp.Or(r.st.Goal, string(r.st.ExitReason)),
		Reason: reason, At: workflow.Now(r.ctx),
	}
	ctx := r.local()
	r.writing++
	err := workflow.ExecuteLocalActivity(ctx, r.acts.RecordProgress, snap).Get(ctx, nil)
	r.writing--
	if err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	if r.engine >= 1 {
		// Published once the workflow task has nothing more to do (see
		// publishLater), with whatever else changed in it.
		r.unpublished = true
		return nil
	}
	return r.publish()
}
