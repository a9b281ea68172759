package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/workflows"
)

// withVersions serves the "lang" journey as versions 1 and 2, and pins the
// lead to version 1.
func withVersions(t *testing.T, v1, v2 string) func(*setupOptions) {
	return func(o *setupOptions) {
		o.journeys, o.versions = map[string]*journeys.Journey{}, map[int]*journeys.Journey{}
		for i, src := range []string{v1, v2} {
			j, err := journeys.Parse("test.yaml", []byte(journeyHead+src))
			require.NoError(t, err)
			o.versions[i+1] = j
			o.journeys[j.ID] = j
		}
	}
}

func migrateSetup(t *testing.T, v1, v2 string) *testBundle {
	b := setup(t, withVersions(t, v1, v2))
	b.input.JourneyID, b.input.JourneyVersion = "lang", 1
	return b
}

func migration(steps ...string) workflows.Migration {
	m := workflows.Migration{JourneyID: "lang", From: 1, To: 2, Steps: map[string]string{}}
	for i := 0; i+1 < len(steps); i += 2 {
		m.Steps[steps[i]] = steps[i+1]
	}
	return m
}

func migrated(t *testing.T, u *updateOutcome) workflows.MigrationResult {
	t.Helper()
	require.True(t, u.done, "the migration was answered")
	require.NoError(t, u.rejected)
	require.NoError(t, u.err)
	res, ok := u.result.(workflows.MigrationResult)
	require.True(t, ok, "%T", u.result)
	return res
}

// A lead waiting in a wait mapped to a shorter wait keeps its place: the new
// wait counts from when it entered the old one. Score and stage carry over,
// and the next email is the new version's.
func TestMigrationKeepsThePlaceInAWait(t *testing.T) {
	t.Parallel()
	b := migrateSetup(t, `stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: pause, wait: 10d}
      - {id: s2, send: b}
      - {id: bye, exit: done}
`, `stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: short, wait: 4d}
      - {id: s2, send: c}
      - {id: bye, exit: done}
`)
	b.signalAt(time.Hour, "e1", lead.EmailClick)
	var before, after workflows.Status
	b.env.RegisterDelayedCallback(func() { before = b.status(t) }, 2*day)
	u := b.updateAt(2*day+time.Hour, workflows.UpdateMigrate, migration("s1", "s1", "pause", "short", "s2", "s2", "bye", "bye"))
	b.env.RegisterDelayedCallback(func() { after = b.status(t) }, 3*day)
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)

	res := migrated(t, u)
	require.Equal(t, workflows.MigrationResult{FromStep: "pause", ToStep: "short", Stage: "one", KeptPlace: true}, res)
	require.Equal(t, []string{"a", "c"}, b.rec.contents(), "the email after the wait is version 2's")
	require.Equal(t, 4*day, b.rec.sendAt[1], "4 days from entering the wait, not from the migration")
	require.Equal(t, 2, b.rec.sends[1].Journey.Version)
	require.Equal(t, 1, before.JourneyVersion)
	require.Equal(t, 2, after.JourneyVersion)
	require.Equal(t, "short", after.Step)
	require.Equal(t, before.Total, after.Total, "the score carried over")
	require.Equal(t, before.EmailsSent, after.EmailsSent)
	var marks []activities.Progress
	for _, p := range b.rec.progress {
		if p.Kind == progress.Migrated {
			marks = append(marks, p)
		}
	}
	require.Len(t, marks, 1)
	require.Equal(t, 2, marks[0].Version, "PostgreSQL learns the new version")
	require.Equal(t, `migrated from version 1 step "pause" to version 2 step "short"`, marks[0].Reason)
}

// A lead waiting for an event, mapped to a step of another kind, enters it
// afresh; one waiting in a send window for its email, mapped to the same
// send in a version without the window, gets it at once, as version 2.
func TestMigrationEntersAnotherKindAfreshAndReworksASendWindow(t *testing.T) {
	t.Parallel()
	b := migrateSetup(t, `stages:
  - id: one
    steps:
      - id: listen
        wait_for: {events: [demo_request], timeout: 10d}
      - {id: s1, send: a}
      - {id: bye, exit: done}
`, `stages:
  - id: one
    steps:
      - {id: nap, wait: 2d}
      - {id: s1, send: b}
      - {id: bye, exit: done}
`)
	u := b.updateAt(day, workflows.UpdateMigrate, migration("listen", "nap", "s1", "s1", "bye", "bye"))
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.Equal(t, workflows.MigrationResult{FromStep: "listen", ToStep: "nap", Stage: "one"}, migrated(t, u))
	require.Equal(t, []string{"b"}, b.rec.contents())
	require.Equal(t, 3*day, b.rec.sendAt[0], "the new wait began at the migration")

	// Saturday: version 1 holds email a for Monday's window; version 2 has
	// no window.
	window := migrateSetup(t, `time_zone: UTC
send_window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: bye, exit: done}
`, `stages:
  - id: one
    steps:
      - {id: s1, send: b}
      - {id: bye, exit: done}
`)
	saturday := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	window.env.SetStartTime(saturday)
	window.rec.start = saturday
	u = window.updateAt(time.Hour, workflows.UpdateMigrate, migration("s1", "s1", "bye", "bye"))
	window.env.ExecuteWorkflow(workflows.LeadJourney, window.input)
	window.result(t)
	require.True(t, migrated(t, u).KeptPlace)
	require.Equal(t, []string{"b"}, window.rec.contents(), "one email, version 2's")
	require.Equal(t, time.Hour, window.rec.sendAt[0], "sent at the migration, not on Monday")
	require.Equal(t, 2, window.rec.sends[0].Journey.Version)
}

// A lead waiting on a task keeps the open task when its step maps to a task
// with the same outcomes (the rep's outcome then leads where version 2
// says); mapped elsewhere, the task is closed as migrated.
func TestMigrationOfALeadWaitingOnATask(t *testing.T) {
	t.Parallel()
	v2 := `stages:
  - id: one
    steps:
      - id: ring
        task:
          title: "Ring {{.FirstName}}"
          timeout: 5d
          outcomes: {reached: great, no_answer: retry}
          on_timeout: retry
      - {id: great, send: c, next: bye}
      - {id: retry, send: b}
      - {id: bye, exit: done}
`
	b := migrateSetup(t, taskJourney[len(journeyHead):], v2)
	u := b.updateAt(day, workflows.UpdateMigrate, migration("call", "ring", "good", "great", "retry", "retry", "bye", "bye"))
	b.updateAt(day+time.Hour, workflows.UpdateTaskOutcome, workflows.TaskOutcome{Outcome: "reached"})
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.True(t, migrated(t, u).KeptPlace)
	require.Len(t, b.rec.tasks, 1, "the open task stayed open: no second task")
	require.Equal(t, []string{"c"}, b.rec.contents(), "the outcome led where version 2 says")
	require.Len(t, b.rec.outcomes, 1)
	require.Equal(t, "reached", b.rec.outcomes[0].Outcome)

	other := migrateSetup(t, taskJourney[len(journeyHead):], `stages:
  - id: one
    steps:
      - {id: nap, wait: 1d}
      - {id: bye, exit: done}
`)
	u = other.updateAt(day, workflows.UpdateMigrate, migration("call", "nap", "good", "bye", "retry", "bye", "bye", "bye"))
	other.env.ExecuteWorkflow(workflows.LeadJourney, other.input)
	other.result(t)
	require.False(t, migrated(t, u).KeptPlace)
	require.Len(t, other.rec.outcomes, 1)
	require.Equal(t, workflows.TaskMigrated, other.rec.outcomes[0].Outcome, "the old step's task was closed")
	require.Equal(t, 2*day, other.env.Now().Sub(testStart).Round(time.Second), "nap began at the migration")
}

// A migration that comes during a send waits for it: the email goes once,
// as version 1's, and the lead moves from the step after it. Migrations the
// lead cannot take are refused with why.
func TestMigrationWaitsForASendAndRefusesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	v1 := `stages:
  - id: one
    steps:
      - {id: s1, send: a}
      - {id: pause, wait: 3d}
      - {id: bye, exit: done}
`
	v2 := `stages:
  - id: one
    steps:
      - {id: s1, send: b}
      - {id: nap, wait: 1d}
      - {id: s2, send: c}
      - {id: bye, exit: done}
`
	b := setup(t, withVersions(t, v1, v2), func(o *setupOptions) { o.sendTakes = time.Hour })
	b.input.JourneyID, b.input.JourneyVersion = "lang", 1
	wrongVersion := b.updateAt(10*time.Minute, workflows.UpdateMigrate, workflows.Migration{JourneyID: "lang", From: 2, To: 1, Steps: map[string]string{"s1": "s1"}})
	unmapped := b.updateAt(20*time.Minute, workflows.UpdateMigrate, migration("bye", "bye"))
	during := b.updateAt(30*time.Minute, workflows.UpdateMigrate, migration("s1", "s1", "pause", "nap", "bye", "bye"))
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)

	require.ErrorContains(t, wrongVersion.rejected, "is on lang version 1, not lang version 2")
	require.ErrorContains(t, unmapped.rejected, `is at step "s1", which the migration does not map; it stays on version 1`)
	res := migrated(t, during)
	require.Equal(t, workflows.MigrationResult{FromStep: "pause", ToStep: "nap", Stage: "one"}, res, "it moved once the send was done")
	require.Equal(t, []string{"a", "c"}, b.rec.contents(), "the send in flight went once, as version 1's")

	// A version that is not published is refused; the lead stays and
	// goes on as before.
	other := setup(t, withVersions(t, v1, v2))
	other.input.JourneyID, other.input.JourneyVersion = "lang", 1
	unpublished := other.updateAt(day, workflows.UpdateMigrate, workflows.Migration{JourneyID: "lang", From: 1, To: 9, Steps: map[string]string{"pause": "pause"}})
	other.env.ExecuteWorkflow(workflows.LeadJourney, other.input)
	r := other.result(t)
	require.ErrorContains(t, unpublished.err, "lang version 9 is not published; lead "+lead.IDForEmail("ada@analytical.test")+" stays on version 1")
	require.EqualValues(t, "done", r.ExitReason, "not a dead end")

}

// An event the wait wanted, taken in the same batch as a migration, is
// kept for the step the lead moves to: it is not lost to the timeout.
func TestMigrationKeepsAnEventTakenWithIt(t *testing.T) {
	t.Parallel()
	listen := `stages:
  - id: one
    steps:
      - id: listen
        wait_for: {events: [demo_request], timeout: 10d, on_event: hot, on_timeout: cold}
      - {id: hot, send: a, next: bye}
      - {id: cold, send: b}
      - {id: bye, exit: done}
`
	b := migrateSetup(t, listen, listen)
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalEngagement, lead.Event{ID: "d1", LeadID: b.input.Lead.ID, Type: lead.DemoRequest, OccurredAt: b.env.Now()})
	}, day)
	u := b.updateAt(day, workflows.UpdateMigrate, migration("listen", "listen", "hot", "hot", "cold", "cold", "bye", "bye"))
	b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
	b.result(t)
	require.True(t, u.done)
	require.Equal(t, []string{"a"}, b.rec.contents(), "the demo request took the on_event branch")
	require.Equal(t, day, b.rec.sendAt[0])
}
