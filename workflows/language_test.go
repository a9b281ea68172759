package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/workflows"
)

const journeyHead = `id: lang
name: Language test
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
    demo_request: {points: 40, axis: intent}
handoff:
  min_score: 100
content:
  - {id: a, stage: one, subject: A, text: "a {{.UnsubscribeURL}}"}
  - {id: b, stage: one, subject: B, text: "b {{.UnsubscribeURL}}"}
  - {id: c, stage: one, subject: C, text: "c {{.UnsubscribeURL}}"}
`

func withJourneys(t *testing.T, srcs ...string) func(*setupOptions) {
	return func(o *setupOptions) {
		o.journeys = map[string]*journeys.Journey{}
		for _, src := range srcs {
			j, err := journeys.Parse("test.yaml", []byte(src))
			require.NoError(t, err)
			o.journeys[j.ID] = j
		}
	}
}

func TestSendWindowHoldsMailUntilItOpens(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, journeyHead+`time_zone: Europe/Berlin
send_window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
stages:
  - id: one
    steps:
      - {id: first, send: a}
      - {id: bye, exit: done}
`))
	b.input.JourneyID = "lang"
	b.input.Lead.TimeZone = "" // falls back to the journey's zone
	saturday := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	b.env.SetStartTime(saturday)
	b.rec.start = saturday
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.Equal(t, []string{"a"}, b.rec.contents())
	monday9Berlin := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	require.Equal(t, monday9Berlin.Sub(saturday), b.rec.sendAt[0])
}

func TestFrequencyCapSpacesEmails(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, journeyHead+`frequency_cap: {max: 2, per: 1w}
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: s2, send: b}
      - {id: s3, send: c}
      - {id: bye, exit: done}
`))
	b.input.JourneyID = "lang"
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.Equal(t, []string{"a", "b", "c"}, b.rec.contents())
	require.Equal(t, []time.Duration{0, 0, 7 * day}, b.rec.sendAt, "the third waits until the first is a week old")
}

func TestWaitUntilADateAndMaxDuration(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, journeyHead+`max_duration: 30d
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: launch, wait_until: {date: "2026-12-01"}}
      - {id: s2, send: b}
      - {id: long, wait: 1w}
      - {id: forever, wait: 26w}
      - {id: s3, send: c}
`))
	b.input.JourneyID = "lang"
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	b.env.SetStartTime(start)
	b.rec.start = start
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.Equal(t, []string{"a", "b"}, b.rec.contents())
	require.Equal(t, 7*day+12*time.Hour, b.rec.sendAt[1], "midnight of the date in the lead's zone (UTC)")
	require.EqualValues(t, "max_duration", r.ExitReason, "the 26-week wait is cut at 30 days, and c is never sent")
	require.Equal(t, 30*day, b.env.Now().Sub(start).Round(time.Second))
}

func TestWaitForBranchesPerEvent(t *testing.T) {
	t.Parallel()
	src := journeyHead + `stages:
  - id: one
    steps:
      - id: listen
        wait_for:
          events: [email_click, demo_request]
          timeout: 3d
          on: {demo_request: hot}
          on_event: warm
          on_timeout: cold
      - {id: warm, send: a, next: bye}
      - {id: hot, send: b, next: bye}
      - {id: cold, send: c}
      - {id: bye, exit: done}
`
	for typ, want := range map[lead.EventType]string{lead.DemoRequest: "b", lead.EmailClick: "a", "": "c"} {
		b := setup(t, withJourneys(t, src))
		b.input.JourneyID = "lang"
		if typ != "" {
			b.signalAt(time.Hour, "e1", typ)
		}
		b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
		b.result(t)
		require.Equal(t, []string{want}, b.rec.contents(), "after %q", typ)
	}
}

const taskJourney = journeyHead + `stages:
  - id: one
    steps:
      - id: call
        task:
          title: "Call {{.FirstName}}"
          cost: 25
          timeout: 2d
          outcomes: {reached: good, no_answer: retry}
          on_timeout: retry
      - {id: good, send: a, next: bye}
      - {id: retry, send: b}
      - {id: bye, exit: done}
`

func TestTaskWaitsForItsOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, taskJourney))
	b.input.JourneyID = "lang"
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalTaskOutcome, workflows.TaskOutcome{TaskID: 99, Outcome: "reached"})  // another task: ignored
		b.env.SignalWorkflow(workflows.SignalTaskOutcome, workflows.TaskOutcome{TaskID: 71, Outcome: "promoted"}) // not an outcome: ignored
	}, time.Hour)
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalTaskOutcome, workflows.TaskOutcome{TaskID: 71, Outcome: "reached"})
	}, 5*time.Hour)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.Len(t, b.rec.tasks, 1)
	require.Equal(t, []string{"no_answer", "reached"}, b.rec.tasks[0].Outcomes)
	require.Equal(t, 25.0, b.rec.tasks[0].Cost)
	require.Equal(t, "reached", b.rec.outcomes[0].Outcome)
	require.Equal(t, []string{"a"}, b.rec.contents())
	require.Equal(t, 5*time.Hour, b.rec.sendAt[0])
}

func TestTaskTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, taskJourney))
	b.input.JourneyID = "lang"
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.Equal(t, "timed_out", b.rec.outcomes[0].Outcome)
	require.Equal(t, []string{"b"}, b.rec.contents())
	require.Equal(t, 2*day, b.rec.sendAt[0])
}

func TestRecycleIntoAnotherJourney(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, journeyHead+`recycle: {journey: second, stage: later}
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: hold, wait: 2w}
`, `id: second
name: Second
scoring: {mql: 10, events: {email_click: {points: 1, axis: interest}}}
handoff: {min_score: 100}
content:
  - {id: z, stage: later, subject: Z, text: "z {{.UnsubscribeURL}}"}
stages:
  - id: early
    steps:
      - {id: never, exit: early}
  - id: later
    steps:
      - {id: s9, send: z}
      - {id: bye, exit: done}
`))
	b.input.JourneyID = "lang"
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.signalAt(2*time.Hour, "d2", lead.DemoRequest)
	b.signalAt(3*time.Hour, "d3", lead.DemoRequest) // 120: hand-off
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalSalesFeedback, workflows.SalesFeedback{Verdict: workflows.VerdictRecycle})
	}, day)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, "done", r.ExitReason)
	require.Equal(t, []string{"a", "z"}, b.rec.contents())
	require.Equal(t, "second", b.rec.sends[1].Journey.ID, "the send names the journey it came from")
	require.Equal(t, "second", b.rec.loads[len(b.rec.loads)-1].ID)
	require.Equal(t, 0, b.rec.loads[len(b.rec.loads)-1].Version, "the latest version of the recycle journey")
}

func TestHandoffWaitsForFitAndBANT(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, `id: lang
name: Hand-off rule
scoring:
  mql: 10
  events:
    demo_request: {points: 40, axis: intent}
  fit:
    - {field: title, equals: CTO, points: 10}
handoff:
  min_score: 40
  behaviour_at_least: 30
  fit_at_least: 10
  require: [bant_authority]
content:
  - {id: a, stage: one, subject: A, text: "a {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: hold, wait: 4w}
`))
	b.input.JourneyID = "lang"
	b.input.Lead.Title = "CTO"
	b.signalAt(time.Hour, "d1", lead.DemoRequest) // 50, but authority unknown
	var before workflows.Status
	b.env.RegisterDelayedCallback(func() { before = b.status(t) }, 2*time.Hour)
	b.env.RegisterDelayedCallback(func() {
		p := b.input.Lead
		p.Fields = map[string]string{"bant_authority": "yes"}
		b.env.SignalWorkflow(workflows.SignalEnroll, workflows.Enrollment{Lead: p, JourneyID: "lang"})
	}, 3*time.Hour)
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalSalesFeedback, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
	}, day)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.EqualValues(t, workflows.LifecycleMQL, before.Lifecycle, "score enough, but no BANT authority: not yet")
	require.Equal(t, 50, before.Total)
	require.Equal(t, 10, before.Score.Fit)
	require.Len(t, b.rec.handoffs, 1, "handed off when the profile learned the authority")
	require.Contains(t, b.rec.handoffs[0].Reason, "bant_authority known")
	require.EqualValues(t, workflows.LifecycleSQL, r.Lifecycle)
}

func TestQuietLeadCoolsBelowMQL(t *testing.T) {
	t.Parallel()
	b := setup(t, withJourneys(t, `id: lang
name: Decay
scoring:
  mql: 30
  decay: {half_life: 7d}
  events:
    demo_request: {points: 40, axis: intent}
handoff:
  min_score: 100
content:
  - {id: a, stage: one, subject: A, text: "a {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: w1, wait: 1w}
      - {id: w2, wait: 1w}
      - {id: bye, exit: done}
`))
	b.input.JourneyID = "lang"
	b.signalAt(time.Hour, "d1", lead.DemoRequest)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	var lifecycles, reasons []string
	for _, p := range b.rec.progress {
		lifecycles = append(lifecycles, p.Lifecycle)
		reasons = append(reasons, p.Reason)
	}
	require.Contains(t, reasons, "demo_request; became MQL")
	require.Contains(t, reasons, "decay; fell back below MQL", "two quiet weeks halve the score twice: 10 < 30")
	last := b.rec.progress[len(b.rec.progress)-2] // before the exit
	require.EqualValues(t, workflows.LifecycleNurturing, last.Lifecycle, "%v", lifecycles)
	require.Equal(t, 10, last.Score.Total())
	require.Equal(t, 40, last.Score.Breakdown[0].Points, "the breakdown keeps what the rule gave")
	require.Equal(t, 10, last.Score.Breakdown[0].Decayed, "and what it is worth now")
}

// The frequency cap counts a lead's emails across a recycle into another
// journey: the new journey gives no fresh allowance.
func TestFrequencyCapCountsAcrossJourneys(t *testing.T) {
	t.Parallel()
	first := journeyHead + `frequency_cap: {max: 2, per: 1w}
recycle: {journey: other}
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: s2, send: b}
      - {id: ho, handoff: {note: "two emails in"}}
`
	other := strings.Replace(journeyHead, "id: lang", "id: other", 1) + `frequency_cap: {max: 2, per: 1w}
stages:
  - id: one
    steps:
      - {id: s3, send: c}
      - {id: bye, exit: done}
`
	b := setup(t, withJourneys(t, first, other))
	b.input.JourneyID = "lang"
	ok := b.updateAt(day, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: workflows.VerdictRecycle})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	r := b.result(t)
	require.NoError(t, ok.err)
	require.EqualValues(t, "done", r.ExitReason)
	require.Equal(t, []string{"a", "b", "c"}, b.rec.contents())
	require.Equal(t, 7*day, b.rec.sendAt[2]-b.rec.sendAt[0], "c waits until a week after a, the first of the two before it")
}

// A goal ends the journey wherever the lead is, handed off included, and
// is counted as a goal, not an exit; an accepted verdict can be the goal.
func TestGoals(t *testing.T) {
	t.Parallel()
	src := journeyHead + `goal: {events: [opportunity_created, customer_won], verdicts: [accepted]}
exit_on: [unsubscribe]
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: w, wait: 30d}
      - {id: ho, handoff: {note: "due"}}
      - {id: w2, wait: 30d}
`
	t.Run("an event while in nurture", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withJourneys(t, src))
		b.input.JourneyID = "lang"
		b.signalAt(day, "o", lead.OpportunityCreated)
		b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
		r := b.result(t)
		require.EqualValues(t, workflows.Result{Lifecycle: workflows.LifecycleGoal, Goal: "opportunity_created"}, workflows.Result{Lifecycle: r.Lifecycle, Goal: r.Goal})
		require.Empty(t, r.ExitReason, "a goal, not an exit")
		last := b.rec.progress[len(b.rec.progress)-1]
		require.Equal(t, progress.Goal, last.Kind)
		require.EqualValues(t, "opportunity_created", last.ExitReason)
		require.True(t, last.Ended)
	})
	t.Run("an event while with sales", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withJourneys(t, src))
		b.input.JourneyID = "lang"
		b.signalAt(31*day, "c", lead.CustomerWon)
		b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
		r := b.result(t)
		require.EqualValues(t, workflows.LifecycleGoal, r.Lifecycle)
		require.Equal(t, "customer_won", r.Goal)
		require.Len(t, b.rec.handoffs, 1, "it was with sales")
	})
	t.Run("an accepted verdict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withJourneys(t, src))
		b.input.JourneyID = "lang"
		ok := b.updateAt(31*day, workflows.UpdateVerdict, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted})
		b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
		r := b.result(t)
		require.NoError(t, ok.err)
		require.EqualValues(t, workflows.LifecycleSQL, r.Lifecycle)
		require.Equal(t, "verdict:accepted", r.Goal)
	})
}
