package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

const day = 24 * time.Hour

// recorder keeps what the fake activities were asked to do.
type recorder struct {
	mu       sync.Mutex
	sends    []activities.SendRequest
	progress []activities.Progress
	handoffs []activities.HandOffRequest
	notices  []activities.NoticeRequest
	verdicts []activities.VerdictRequest
	crm      []activities.CRMRequest
	crmAt    []time.Duration
	tasks    []activities.TaskRequest
	outcomes []activities.TaskOutcomeRequest
	loads    []activities.JourneyRef
	sendAt   []time.Duration
	// progressFailures counts progress writes refused by the outage.
	progressFailures int
	start            time.Time
	env              *testsuite.TestWorkflowEnvironment
	suppress         bool
}

func (r *recorder) contents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.sends {
		out = append(out, s.ContentID)
	}
	return out
}

type testBundle struct {
	env     *testsuite.TestWorkflowEnvironment
	rec     *recorder
	journey journeys.Journey
	input   workflows.Input
}

// setupOptions change the fakes.
type setupOptions struct {
	// sendTakes is how long each send activity runs, in journey time.
	sendTakes time.Duration
	// journeys are served by LoadJourney by ID, instead of the shipped one.
	journeys map[string]*journeys.Journey
	// noticeTakes is how long the hand-off notice to sales takes to go
	// out (an SMTP outage), noticeStatus what becomes of it.
	noticeTakes  time.Duration
	noticeStatus string
	// progressDown keeps PostgreSQL away from the progress writes for
	// this long after the start.
	progressDown time.Duration
	// sendResult, when set, is what every send comes back with.
	sendResult string
	// crmFailures is how many posts to the CRM fail before one is taken.
	crmFailures int
	// versions are served by LoadJourney for a version asked by number,
	// as that version.
	versions map[int]*journeys.Journey
}

// testStart is when every workflow test begins unless it says otherwise: a
// Monday morning, so no test depends on the hour or day it runs at (decay
// counts calendar days, send windows weekdays).
var testStart = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T, opts ...func(*setupOptions)) *testBundle {
	t.Helper()
	o := setupOptions{noticeStatus: activities.SendSent}
	for _, f := range opts {
		f(&o)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(testStart)
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	if o.journeys == nil {
		// Every shipped journey, as if published: b2b-nurture recycles
		// into recycle-nurture.
		recycle, _, err := journeys.LoadShipped("recycle-nurture.yaml")
		require.NoError(t, err)
		o.journeys = map[string]*journeys.Journey{j.ID: j, recycle.ID: recycle}
	} else {
		for _, first := range o.journeys {
			j = first
		}
	}
	rec := &recorder{env: env, start: env.Now()}
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.LoadJourney, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, ref activities.JourneyRef) (activities.LoadedJourney, error) {
			rec.mu.Lock()
			rec.loads = append(rec.loads, ref)
			rec.mu.Unlock()
			if v, ok := o.versions[ref.Version]; ok {
				return activities.LoadedJourney{Version: ref.Version, Journey: v.WithoutBodies()}, nil
			} else if o.versions != nil && ref.Version != 0 {
				return activities.LoadedJourney{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("journey %q version %d is not published", ref.ID, ref.Version), activities.ErrTypeJourneyNotFound, nil)
			}
			got, ok := o.journeys[ref.ID]
			if !ok {
				return activities.LoadedJourney{}, fmt.Errorf("no journey %q", ref.ID)
			}
			return activities.LoadedJourney{Version: 3, Journey: got.WithoutBodies()}, nil
		})
	env.OnActivity(a.CreateTask, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.TaskRequest) (activities.TaskResult, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.tasks = append(rec.tasks, req)
			return activities.TaskResult{ID: int64(70 + len(rec.tasks))}, nil
		})
	env.OnActivity(a.RecordTaskOutcome, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.TaskOutcomeRequest) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.outcomes = append(rec.outcomes, req)
			return nil
		})
	env.OnActivity(a.SendContent, mock.Anything, mock.Anything).After(o.sendTakes).Return(
		func(_ context.Context, req activities.SendRequest) (activities.SendResult, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.suppress {
				return activities.SendResult{Status: activities.SendSuppressed, Reason: "unsubscribe"}, nil
			}
			if o.sendResult != "" {
				return activities.SendResult{Status: o.sendResult, Reason: "template: benchmark-report.subject:1:2: error calling slice: index out of range"}, nil
			}
			rec.sends = append(rec.sends, req)
			rec.sendAt = append(rec.sendAt, env.Now().Sub(rec.start).Round(time.Second))
			return activities.SendResult{Status: activities.SendSent, MessageID: "<" + req.Key + ">"}, nil
		})
	env.OnActivity(a.RecordProgress, mock.Anything, mock.Anything).Return(
		func(_ context.Context, s activities.Progress) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if o.progressDown > 0 && env.Now().Sub(rec.start) < o.progressDown {
				rec.progressFailures++
				return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
			}
			rec.progress = append(rec.progress, s)
			return nil
		})
	env.OnActivity(a.RecordHandoff, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.HandOffRequest) (activities.HandOffResult, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.handoffs = append(rec.handoffs, req)
			return activities.HandOffResult{ID: int64(40 + len(rec.handoffs))}, nil
		})
	env.OnActivity(a.NotifySales, mock.Anything, mock.Anything).After(o.noticeTakes).Return(
		func(_ context.Context, req activities.NoticeRequest) (activities.NoticeResult, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.notices = append(rec.notices, req)
			return activities.NoticeResult{Status: o.noticeStatus}, nil
		})
	env.OnActivity(a.PostToCRM, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.CRMRequest) (activities.CRMResult, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.crm = append(rec.crm, req)
			rec.crmAt = append(rec.crmAt, env.Now().Sub(rec.start).Round(time.Second))
			if len(rec.crm) <= o.crmFailures {
				return activities.CRMResult{}, temporal.NewApplicationError("the CRM answered 503 Service Unavailable", activities.ErrTypeCRM)
			}
			return activities.CRMResult{Status: "delivered"}, nil
		})
	env.OnActivity(a.RecordVerdict, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.VerdictRequest) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.verdicts = append(rec.verdicts, req)
			return nil
		})
	p := lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Company: "Analytical Engines"}
	require.NoError(t, p.Normalize())
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID(p.ID)})
	return &testBundle{env: env, rec: rec, journey: *j, input: workflows.Input{Lead: p, JourneyID: j.ID}}
}

// signalAt delivers an engagement event after d of journey time.
func (b *testBundle) signalAt(d time.Duration, id string, typ lead.EventType) {
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalEngagement, lead.Event{ID: id, LeadID: b.input.Lead.ID, Type: typ, OccurredAt: b.env.Now()})
	}, d)
}

func (b *testBundle) status(t *testing.T) workflows.Status {
	t.Helper()
	v, err := b.env.QueryWorkflow(workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.Status
	require.NoError(t, v.Get(&st))
	return st
}

func (b *testBundle) result(t *testing.T) workflows.Result {
	t.Helper()
	require.True(t, b.env.IsWorkflowCompleted())
	require.NoError(t, b.env.GetWorkflowError())
	var r workflows.Result
	require.NoError(t, b.env.GetWorkflowResult(&r))
	return r
}

func TestQuietLeadGetsAReminderThenLeaves(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)

	r := b.result(t)
	require.EqualValues(t, workflows.LifecycleExited, r.Lifecycle)
	require.EqualValues(t, "no_engagement", r.ExitReason)
	require.Equal(t, []string{"benchmark-report", "benchmark-reminder"}, b.rec.contents())
	require.Equal(t, 3*day, b.rec.sendAt[1], "the reminder goes when the 3-day wait times out")
}

func TestEngagedLeadIsHandedOffDuringAWaitAndAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.signalAt(12*time.Hour, "e1", lead.EmailClick)     // branch: webinar invite at once
	b.signalAt(day+time.Hour, "e2", lead.WebinarSignup) // during the 2-day settle wait
	b.signalAt(day+2*time.Hour, "e3", lead.ContactForm) // 3+20+30 = 53: MQL
	b.signalAt(day+3*time.Hour, "e4", lead.DemoRequest) // 93: sales ready, mid-wait
	b.signalAt(day+4*time.Hour, "e4", lead.DemoRequest) // a retried delivery: counts once
	var atHandoff workflows.Status
	b.env.RegisterDelayedCallback(func() { atHandoff = b.status(t) }, day+5*time.Hour)
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalSalesFeedback, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	}, 2*day+12*time.Hour)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)

	r := b.result(t)
	require.EqualValues(t, workflows.LifecycleSQL, r.Lifecycle)
	require.Equal(t, 93, r.Score)
	require.Equal(t, []string{"benchmark-report", "webinar-invite"}, b.rec.contents(), "no content after the hand-off")
	require.Equal(t, 12*time.Hour, b.rec.sendAt[1])

	require.Len(t, b.rec.handoffs, 1)
	h := b.rec.handoffs[0]
	require.Equal(t, 93, h.Score.Total())
	require.Contains(t, h.Reason, "score 93 reached the hand-off score 90")
	require.EqualValues(t, workflows.LifecycleHandedOff, atHandoff.Lifecycle, "handed off within the hour, not after the wait")
	require.Equal(t, 4, atHandoff.EventsSeen)
	require.EqualValues(t, []activities.VerdictRequest{{HandoffID: 41, Verdict: "accepted"}}, b.rec.verdicts)

	var lifecycles []string
	for _, p := range b.rec.progress {
		lifecycles = append(lifecycles, p.Lifecycle)
	}
	require.Contains(t, lifecycles, string(workflows.LifecycleMQL))
	require.EqualValues(t, workflows.LifecycleSQL, lifecycles[len(lifecycles)-1])
	require.Equal(t, 3, b.rec.progress[len(b.rec.progress)-1].Version, "progress names the pinned version")
}

func TestSendKeysAreStableAndNameTheOccurrence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.Len(t, b.rec.sends, 2)
	// workflow ID / enrolment (the first run of the chain) / step / occurrence
	parts := strings.Split(b.rec.sends[0].Key, "/")
	require.Len(t, parts, 4)
	require.Equal(t, workflows.WorkflowID(b.input.Lead.ID), parts[0])
	require.NotEmpty(t, parts[1])
	require.Equal(t, []string{parts[0], parts[1], "send-benchmark", "1"}, parts)
	require.Equal(t, strings.Join([]string{parts[0], parts[1], "send-reminder", "1"}, "/"), b.rec.sends[1].Key)
}

func TestUnsubscribeEndsTheJourneyAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.signalAt(day, "u1", lead.Unsubscribe)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, workflows.LifecycleExited, r.Lifecycle)
	require.EqualValues(t, "unsubscribe", r.ExitReason)
	require.Equal(t, []string{"benchmark-report"}, b.rec.contents())
}

func TestSuppressedAtSendTimeEndsTheJourney(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rec.suppress = true
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, "suppressed: unsubscribe", r.ExitReason)
}

func TestStartStageAndRecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.input.StartStage = "evaluation"
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.signalAt(2*time.Hour, "c1", lead.ContactForm)
	b.signalAt(3*time.Hour, "p1", lead.PricingPageView) // 85
	b.signalAt(4*time.Hour, "o1", lead.EmailOpen)
	b.signalAt(5*time.Hour, "k1", lead.EmailClick) // 90: hand-off
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalSalesFeedback, workflows.SalesFeedback{Verdict: workflows.VerdictRecycle, Reason: "next quarter"})
	}, day)
	var afterRecycle workflows.Status
	b.env.RegisterDelayedCallback(func() { afterRecycle = b.status(t) }, day+time.Hour)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)

	r := b.result(t)
	require.Equal(t, "product-comparison", b.rec.contents()[0], "a demo-request lead starts at evaluation")
	require.Len(t, b.rec.handoffs, 1)
	require.EqualValues(t, workflows.LifecycleNurturing, afterRecycle.Lifecycle)
	require.Equal(t, "recycle-nurture", afterRecycle.JourneyID, "recycled into the journey the rule names")
	require.Equal(t, "consideration", afterRecycle.BuyingStage, "at the stage it names")
	require.Equal(t, 0, afterRecycle.Total, "recycling starts the behaviour score again")
	require.Contains(t, b.rec.contents(), "whats-new")
	require.Len(t, b.rec.tasks, 1, "the rep's check-in call")
	require.EqualValues(t, "recycled_out", r.ExitReason, "nobody reported the call: farewell")
}

func TestContinueAsNewCarriesTheJourneyOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.signalAt(12*time.Hour, "e1", lead.EmailClick)
	b.env.RegisterDelayedCallback(func() { b.env.SetContinueAsNewSuggested(true) }, 2*day)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)

	require.True(t, b.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(b.env.GetWorkflowError(), &can), "got %v", b.env.GetWorkflowError())
	var next workflows.Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carried)
	st := next.Carried
	require.Equal(t, "settle", st.Step, "resumes the wait it was in")
	require.True(t, st.Entered, "and does not enter the step again")
	require.NotZero(t, st.WaitUntil)
	require.Equal(t, 3, st.JourneyVersion)
	require.Equal(t, []string{"e1"}, st.RecentIDs)
	require.Equal(t, 3, st.Score.Total())

	// The next run picks up where this one stopped: a signal that arrived
	// as this run ended is taken first, the settle wait ends, consideration
	// begins, and the duplicate of e1 is ignored.
	st.Pending = []lead.Event{{ID: "late", LeadID: st.Lead.ID, Type: lead.EmailClick, OccurredAt: b.env.Now()}}
	c := setup(t)
	c.env.SetStartTime(b.env.Now())
	c.signalAt(time.Hour, "e1", lead.EmailClick)
	c.env.ExecuteWorkflow(workflows.LeadJourney, next)
	r := c.result(t)
	require.Equal(t, "case-study", c.rec.contents()[0], "no content repeated after continue-as-new")
	require.Equal(t, 6, c.rec.progress[0].Score.Total(), "the carried signal counted, the duplicate event did not count again")
	require.EqualValues(t, "completed", r.ExitReason)
	for _, s := range c.rec.sends {
		require.Contains(t, s.Key, st.Enrollment, "send keys keep the enrolment across runs")
	}
}

func TestEventDuringTheSendCountsForTheWaitThatFollows(t *testing.T) {
	t.Parallel()
	// The click is reported while the first send's activity is still
	// running: the send takes a journey hour here.
	b := setup(t, func(o *setupOptions) { o.sendTakes = time.Hour })
	b.signalAt(time.Minute, "c1", lead.EmailClick)
	var st workflows.Status
	b.env.RegisterDelayedCallback(func() { st = b.status(t) }, 3*time.Hour)
	b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 4*time.Hour)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	require.Equal(t, "settle", st.Step, "the click ended the wait for engagement at once: %+v", st.LastSteps)
	require.Equal(t, []string{"benchmark-report", "webinar-invite"}, b.rec.contents())
	require.Equal(t, 2*time.Hour, b.rec.sendAt[1], "the invitation went as soon as the first send finished")
}

// TestAHandoffThatEndsAWaitIsNotATimeout: intent during the wait for
// interest hands the lead off at once; the wait's record says so, not
// "timed out".
func TestAHandoffThatEndsAWaitIsNotATimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.input.Lead.Title = "CTO"
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.signalAt(2*time.Hour, "c1", lead.ContactForm)
	b.signalAt(3*time.Hour, "p1", lead.PricingPageView)
	var st workflows.Status
	b.env.RegisterDelayedCallback(func() { st = b.status(t) }, 4*time.Hour)
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalSalesFeedback, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	}, day)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.EqualValues(t, workflows.LifecycleHandedOff, st.Lifecycle)
	last := st.LastSteps[len(st.LastSteps)-1]
	require.Equal(t, "await-interest", last.Step)
	require.Equal(t, "interrupted: handed_off", last.Outcome)
}

// TestAWaitKeepsOneTimerHoweverMuchEngagementArrives: thirty opens during
// the 3-day wait wake the journey thirty times; it keeps the one timer it
// started, and the reminder still goes when the 3 days are up. A history
// from before versionOneTimer replays the way it was recorded: a timer per
// wake-up.
func TestAWaitKeepsOneTimerHoweverMuchEngagementArrives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		before bool
	}{{"new", false}, {"before one timer per wait", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tc.before {
				// A run recorded before the engine version, and before
				// the change.
				b.env.OnGetVersion("engine", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
				b.env.OnGetVersion("one-timer-per-wait", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			var mu sync.Mutex
			started := 0
			b.env.SetOnTimerScheduledListener(func(string, time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				started++
			})
			for n := range 30 {
				b.signalAt(time.Hour+time.Duration(n)*time.Hour, fmt.Sprintf("open-%d", n), lead.EmailOpen)
			}
			b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
			r := b.result(t)
			require.EqualValues(t, "no_engagement", r.ExitReason)
			require.Equal(t, 3*day, b.rec.sendAt[1], "the reminder goes when the 3-day wait times out")
			if tc.before {
				require.Greater(t, started, 30, "a timer per wake-up, as recorded")
			} else {
				require.Equal(t, 2, started, "one timer for each of the two waits")
			}
		})
	}
}

// TestCarriedStateStaysBounded: what a run hands to the next when it
// continues as new does not grow with the lead's life. A lead that took
// 2,000 events and one that took 6,000 (opens, during its first waits)
// carry states of about the same size, under 64 KB: the de-duplication
// window (the last 1,000 event IDs), the step history and the frequency
// cap's memory are bounded.
func TestCarriedStateStaysBounded(t *testing.T) {
	t.Parallel()
	carried := func(events int) int {
		b := setup(t)
		// A hundred at a time, an hour apart: a workflow task takes each
		// hundred.
		for batch := range events / 100 {
			b.env.RegisterDelayedCallback(func() {
				for n := range 100 {
					b.env.SignalWorkflow(workflows.SignalEngagement, lead.Event{ID: fmt.Sprintf("open-%d-%d", batch, n), LeadID: b.input.Lead.ID, Type: lead.EmailOpen, OccurredAt: b.env.Now()})
				}
			}, time.Duration(batch+1)*time.Minute)
		}
		b.env.RegisterDelayedCallback(func() { b.env.SetContinueAsNewSuggested(true) }, time.Duration(events/100+1)*time.Minute)
		b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
		var can *workflow.ContinueAsNewError
		require.True(t, errors.As(b.env.GetWorkflowError(), &can), "got %v", b.env.GetWorkflowError())
		var next workflows.Input
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
		require.Equal(t, events, next.Carried.EventsSeen)
		return proto.Size(can.Input)
	}
	small, large := carried(2000), carried(6000)
	require.Less(t, large, 64<<10, "6,000 events: %d bytes", large)
	require.Less(t, large, small+small/10, "2,000 events carry %d bytes, 6,000 carry %d", small, large)
}
