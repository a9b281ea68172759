package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

// update sends an Update at journey time d and keeps what came back.
type updateOutcome struct {
	rejected error
	result   any
	err      error
	done     bool
}

func (b *testBundle) updateAt(d time.Duration, name string, arg any) *updateOutcome {
	out := &updateOutcome{}
	b.env.RegisterDelayedCallback(func() {
		b.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { out.rejected, out.done = err, true },
			OnAccept:   func() {},
			OnComplete: func(r any, err error) { out.result, out.err, out.done = r, err, true },
		}, arg)
	}, d)
	return out
}

// TestProgressOutlastsAPostgresOutage is defect 1 of issue 7: the progress
// local activity gave up after 10 s of retries and failed the workflow.
// Here PostgreSQL refuses every write for the first 20 minutes.
func TestProgressOutlastsAPostgresOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.progressDown = 20 * time.Minute })
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, "no_engagement", r.ExitReason, "the journey waited and went on")
	require.Greater(t, b.rec.progressFailures, 5)
	require.Equal(t, "enrolled in b2b-nurture", b.rec.progress[0].Reason, "nothing was skipped")
	last := b.rec.progress[len(b.rec.progress)-1]
	require.True(t, last.Ended)
	require.EqualValues(t, "no_engagement", last.ExitReason, "the exit is stored with its reason")
}

func TestVerdictIsAnUpdateThatSaysWhatHappened(t *testing.T) {
	t.Parallel()
	b := setup(t)
	early := b.updateAt(time.Hour, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	b.signalAt(2*time.Hour, "d1", lead.DemoRequest)
	b.signalAt(2*time.Hour, "c1", lead.ContactForm)
	b.signalAt(2*time.Hour, "w1", lead.WebinarSignup)
	wrong := b.updateAt(3*time.Hour, workflows.UpdateVerdict, workflows.SalesFeedback{HandoffID: 7, Verdict: workflows.VerdictAccepted})
	bad := b.updateAt(3*time.Hour, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: "maybe"})
	ok := b.updateAt(4*time.Hour, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: workflows.VerdictRecycle, Reason: "next quarter"})
	b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 5*time.Hour)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)

	require.ErrorContains(t, early.rejected, "has no open hand-off: it is nurturing")
	require.ErrorContains(t, wrong.rejected, "hand-off #7 is not the open one; lead ada@analytical.test's open hand-off is #41")
	require.ErrorContains(t, bad.rejected, `verdict "maybe": use accepted, rejected or recycle`)
	require.True(t, ok.done)
	require.NoError(t, ok.rejected)
	require.NoError(t, ok.err)
	res := ok.result.(workflows.VerdictResult)
	require.EqualValues(t, workflows.VerdictResult{HandoffID: 41, Verdict: "recycle", Lifecycle: workflows.LifecycleNurturing, JourneyID: "recycle-nurture", Stage: "consideration"}, res)
	require.Len(t, b.rec.verdicts, 1, "only the verdict taken was recorded")
	require.Equal(t, "next quarter", b.rec.verdicts[0].Reason)
}

func TestTaskOutcomeIsAnUpdateAndKeepsItsNote(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, taskJourney))
	b.input.JourneyID = "lang"
	wrongTask := b.updateAt(time.Hour, workflows.UpdateTaskOutcome, workflows.TaskOutcome{TaskID: 99, Outcome: "reached"})
	unknown := b.updateAt(time.Hour, workflows.UpdateTaskOutcome, workflows.TaskOutcome{Outcome: "promoted"})
	ok := b.updateAt(2*time.Hour, workflows.UpdateTaskOutcome, workflows.TaskOutcome{Outcome: "reached", Note: "wants a demo in March"})
	second := b.updateAt(2*time.Hour, workflows.UpdateTaskOutcome, workflows.TaskOutcome{Outcome: "no_answer"})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)

	require.ErrorContains(t, wrongTask.rejected, "task #99 is not the open one; lead ada@analytical.test waits on task #71")
	require.ErrorContains(t, unknown.rejected, `task #71 (step "call") has outcomes no_answer, reached, not "promoted"`)
	require.NoError(t, ok.err)
	require.Equal(t, workflows.TaskOutcomeResult{TaskID: 71, Outcome: "reached", Next: "good"}, ok.result.(workflows.TaskOutcomeResult))
	require.ErrorContains(t, second.rejected, "task #71 was answered already (reached)")
	require.Len(t, b.rec.outcomes, 1)
	require.Equal(t, "wants a demo in March", b.rec.outcomes[0].Note, "the note is stored")
	require.Equal(t, []string{"a"}, b.rec.contents())
}

// TestContentErrorEndsTheLeadNotTheWorkflow is defect 5 of issue 7, in the
// workflow: content that cannot be rendered for a lead exits it with a
// reason; the workflow completes and the stored state says so.
func TestContentErrorEndsTheLeadNotTheWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.sendResult = activities.SendContentError })
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, workflows.LifecycleExited, r.Lifecycle)
	require.EqualValues(t, "content_error", r.ExitReason)
	last := b.rec.progress[len(b.rec.progress)-1]
	require.EqualValues(t, "content_error", last.ExitReason)
	require.True(t, last.Ended)

	// A journey that says skip goes on without the email.
	src := journeyHead + `on_content_error: skip
stages:
  - id: one
    steps:
      - {id: first, send: a}
      - {id: second, wait: 1d}
      - {id: bye, exit: done}
`
	b = setup(t, withJourneys(t, src), func(o *setupOptions) { o.sendResult = activities.SendContentError })
	b.input.JourneyID = "lang"
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r = b.result(t)
	require.EqualValues(t, "done", r.ExitReason)
	st := b.status(t)
	require.True(t, strings.HasPrefix(st.LastSteps[0].Outcome, "skipped: content error"), st.LastSteps[0].Outcome)
}

// TestDeadEndExitsWithAReason: a step missing from the journey (a bad
// migration) cannot be retried away; the lead exits with "error" and the
// workflow completes instead of failing.
func TestDeadEndExitsWithAReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	st := workflows.State{Lead: b.input.Lead, JourneyID: b.input.JourneyID, JourneyVersion: 3, Enrollment: "e1", Step: "no-such-step", StartedAt: testStart.UnixMilli(),
		Lifecycle: workflows.LifecycleNurturing, History: []workflows.StepRecord{{Step: "send-benchmark"}}}
	b.input.Carried = &st
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, "error", r.ExitReason)
	last := b.rec.progress[len(b.rec.progress)-1]
	require.Contains(t, last.Reason, `step "no-such-step" is not in journey`)
}

// TestHandoffStandsWhileItsNoticeWaits: the hand-off is recorded and sales
// can answer it while the email to sales waits for SMTP (here two days).
func TestHandoffStandsWhileItsNoticeWaits(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.noticeTakes = 2 * day; o.noticeStatus = activities.SendAmbiguous })
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.signalAt(time.Hour, "c1", lead.ContactForm)
	b.signalAt(time.Hour, "w1", lead.WebinarSignup)
	var during workflows.Status
	b.env.RegisterDelayedCallback(func() { during = b.status(t) }, 2*time.Hour)
	ok := b.updateAt(3*time.Hour, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)

	require.EqualValues(t, workflows.LifecycleHandedOff, during.Lifecycle, "handed off before the notice went")
	require.NoError(t, ok.err)
	require.EqualValues(t, workflows.LifecycleSQL, r.Lifecycle)
	require.Len(t, b.rec.notices, 1)
	require.Equal(t, int64(41), b.rec.notices[0].HandoffID)
	require.GreaterOrEqual(t, b.env.Now().Sub(testStart), 2*day, "the journey ended only once the notice was done")
	st := b.status(t)
	require.Equal(t, 1, st.Ambiguous, "an ambiguous notice is counted")
}

// The hand-off is posted to the CRM beside the journey, retried with
// backoff through an outage, and the journey neither fails nor ends before
// the post is taken.
func TestHandoffIsPostedToTheCRMThroughAnOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOptions) { o.crmFailures = 8 })
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.signalAt(time.Hour, "c1", lead.ContactForm)
	b.signalAt(time.Hour, "w1", lead.WebinarSignup)
	ok := b.updateAt(2*time.Hour, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)

	require.NoError(t, ok.err, "sales answered while the CRM was down")
	require.EqualValues(t, workflows.LifecycleSQL, r.Lifecycle)
	require.Len(t, b.rec.crm, 9, "eight failures, then taken")
	for _, req := range b.rec.crm {
		require.Equal(t, int64(41), req.HandoffID)
		require.Equal(t, b.rec.handoffs[0].Key, req.Handoff.Key, "every attempt carries the same key")
	}
	// Backoff: 10 s doubling, capped at an hour.
	gaps := make([]time.Duration, 0, len(b.rec.crmAt)-1)
	for i := 1; i < len(b.rec.crmAt); i++ {
		gaps = append(gaps, b.rec.crmAt[i]-b.rec.crmAt[i-1])
	}
	require.Equal(t, 10*time.Second, gaps[0])
	require.Equal(t, 20*time.Second, gaps[1])
	require.Equal(t, 1280*time.Second, gaps[7])
	require.GreaterOrEqual(t, b.env.Now().Sub(testStart), b.rec.crmAt[8], "the journey ended once the post was taken")
}

// TestSetStageHolds is defect 10 of issue 7: the next step of the same
// stage put the lead back, undoing set_stage.
func TestSetStageHolds(t *testing.T) {
	t.Parallel()
	src := journeyHead + `stages:
  - id: one
    steps:
      - {id: promote, set_stage: two}
      - {id: pause, wait: 1d}
      - {id: more, wait: 1d}
  - id: two
    steps:
      - {id: later, wait: 1d}
      - {id: back, goto: pause}
`
	b := setup(t, withJourneys(t, src))
	b.input.JourneyID = "lang"
	var inPause, inTwo, backInOne workflows.Status
	b.env.RegisterDelayedCallback(func() { inPause = b.status(t) }, 12*time.Hour)
	b.env.RegisterDelayedCallback(func() { inTwo = b.status(t) }, 2*day+12*time.Hour)
	b.env.RegisterDelayedCallback(func() { backInOne = b.status(t) }, 3*day+12*time.Hour)
	b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 4*day)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	require.Equal(t, "pause", inPause.Step)
	require.Equal(t, "two", inPause.BuyingStage, "set_stage holds in the steps of its own stage")
	require.Equal(t, "two", inTwo.BuyingStage)
	require.Equal(t, "pause", backInOne.Step)
	require.Equal(t, "one", backInOne.BuyingStage, "entering another stage's step moves the lead, backwards too")
}

// TestAProfileUpdateKeepsTheTimeZone is defect 10 of issue 7: an enrolment
// that named no zone reset the lead's to UTC.
func TestAProfileUpdateKeepsTheTimeZone(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, journeyHead+`send_window: {from: "09:00", to: "17:00"}
stages:
  - id: one
    steps:
      - {id: pause, wait: 1d}
      - {id: first, send: a}
      - {id: bye, exit: done}
`))
	b.input.JourneyID = "lang"
	b.input.Lead.TimeZone = "America/New_York"
	saturday3am := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	b.env.SetStartTime(saturday3am)
	b.rec.start = saturday3am
	b.env.RegisterDelayedCallback(func() {
		update := b.input.Lead
		update.TimeZone, update.Company = "", "Analytical Engines Ltd"
		b.env.SignalWorkflow(workflows.SignalEnroll, workflows.Enrollment{Lead: update, JourneyID: "lang"})
	}, time.Hour)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	nineInNewYork := time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC)
	require.Equal(t, nineInNewYork.Sub(saturday3am), b.rec.sendAt[0], "the window is New York's, not UTC's")
	require.Equal(t, "Analytical Engines Ltd", b.rec.sends[0].Lead.Company, "the update itself was taken")
}

// TestRemovalEndsTheJourneyWhereItIs: an operator removes a lead waiting
// for engagement; it exits at once with the reason kept, and a second
// removal of the ended journey is refused with why.
func TestRemovalEndsTheJourneyWhereItIs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	empty := b.updateAt(time.Hour, workflows.UpdateRemove, workflows.Removal{})
	first := b.updateAt(2*time.Hour, workflows.UpdateRemove, workflows.Removal{Reason: "asked by phone to stop"})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, workflows.LifecycleExited, r.Lifecycle)
	require.EqualValues(t, workflows.ExitRemoved, r.ExitReason)
	require.ErrorContains(t, empty.rejected, "say why the lead is removed")
	require.True(t, first.done)
	require.NoError(t, first.err)
	require.EqualValues(t, workflows.RemovalResult{JourneyID: "b2b-nurture", Step: "await-interest", Stage: "interest", Lifecycle: "nurturing"}, first.result)
	last := b.rec.progress[len(b.rec.progress)-1]
	require.Equal(t, "exited: removed: asked by phone to stop", last.Reason)
	require.EqualValues(t, workflows.ExitRemoved, last.ExitReason)
	require.True(t, last.Ended)
	require.Equal(t, []string{"benchmark-report"}, b.rec.contents(), "nothing more is sent")
}

// TestRemovalOfAHandedOffLead: a lead waiting for sales' verdict can be
// removed too.
func TestRemovalOfAHandedOffLead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.input.Lead.Title = "CTO"
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.signalAt(2*time.Hour, "c1", lead.ContactForm)
	b.signalAt(3*time.Hour, "p1", lead.PricingPageView)
	out := b.updateAt(day, workflows.UpdateRemove, workflows.Removal{Reason: "duplicate of another lead"})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, workflows.ExitRemoved, r.ExitReason)
	require.NoError(t, out.err)
	require.EqualValues(t, "handed_off", out.result.(workflows.RemovalResult).Lifecycle)
}
