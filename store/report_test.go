package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

// TestReportCountsFromTypedRecords builds a small history by hand (three
// leads in version 1, one in version 2) and checks every number of the
// report against it.
func TestReportCountsFromTypedRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	t0 := testTime
	day := 24 * time.Hour
	_, err := pool.Exec(ctx, `insert into journey_versions (journey_id, version, hash, source, definition) values
    ('j', 1, 'h1', '', '{"stages": [{"id": "interest"}, {"id": "consideration"}, {"id": "evaluation"}]}')`)
	require.NoError(t, err)
	leads := map[string]lead.Profile{}
	for _, email := range []string{"a@x.test", "b@x.test", "c@x.test", "d@x.test"} {
		p := lead.Profile{Email: email}
		require.NoError(t, p.Normalize())
		require.NoError(t, store.UpsertLead(ctx, pool, p))
		leads[email] = p
	}
	seq := map[string]int{}
	record := func(email string, version int, kind progress.Kind, stage, lifecycle, exit string, at time.Duration) {
		seq[email]++
		require.NoError(t, store.RecordProgress(ctx, pool, store.Snapshot{Kind: kind, LeadID: leads[email].ID, Enrollment: "e-" + email, Seq: seq[email],
			JourneyID: "j", Version: version, BuyingStage: stage, Lifecycle: lifecycle, ExitReason: exit, Ended: exit != "", At: t0.Add(at)}))
	}
	send := func(email, content string, version int, at time.Duration) {
		_, err := pool.Exec(ctx, `insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, cost, status, claimed_at, sent_at)
values ($1, $2, 'j', $3, 's', $4, $5, 'subject', 'mid', 0.5, 'sent', $6, $6)`, email+content, leads[email].ID, version, content, email, t0.Add(at))
		require.NoError(t, err)
	}
	handoff := func(email, verdict string, at time.Duration) {
		id, _, err := store.InsertHandoff(ctx, pool, store.Handoff{Key: "h-" + email, LeadID: leads[email].ID, JourneyID: "j", Version: 1, Reason: "ready"})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `update handoffs set created_at = $2, verdict = nullif($3, '') where id = $1`, id, t0.Add(at), verdict)
		require.NoError(t, err)
	}
	// A: interest, MQL on day 2, consideration, handed off on day 4 and
	// accepted; got c1 (opened and clicked it) and c2.
	record("a@x.test", 1, progress.Enrolled, "", "nurturing", "", 0)
	record("a@x.test", 1, progress.Stage, "interest", "nurturing", "", 0)
	send("a@x.test", "c1", 1, 0)
	record("a@x.test", 1, progress.MQL, "interest", "mql", "", 2*day)
	record("a@x.test", 1, progress.Stage, "consideration", "mql", "", 3*day)
	send("a@x.test", "c2", 1, 3*day)
	record("a@x.test", 1, progress.HandedOff, "consideration", "handed_off", "", 4*day)
	handoff("a@x.test", "accepted", 4*day)
	// The journey's goal is an accepted verdict: counted as a goal.
	record("a@x.test", 1, progress.Goal, "consideration", "sql", "verdict:accepted", 4*day+time.Hour)
	for _, typ := range []lead.EventType{lead.EmailOpen, lead.EmailClick} {
		_, err := store.InsertEvent(ctx, pool, lead.Event{ID: string(typ), LeadID: leads["a@x.test"].ID, Type: typ, OccurredAt: t0.Add(day), Properties: map[string]string{"content": "c1"}})
		require.NoError(t, err)
	}
	// B: interest, got c1, left on day 7 without engaging.
	record("b@x.test", 1, progress.Enrolled, "", "nurturing", "", time.Hour)
	record("b@x.test", 1, progress.Stage, "interest", "nurturing", "", time.Hour)
	send("b@x.test", "c1", 1, time.Hour)
	record("b@x.test", 1, progress.Exited, "interest", "exited", "no_engagement", 7*day)
	// C: entered at evaluation, MQL and handed off on day 1, no verdict
	// yet; a call task (cost 30) answered reached.
	record("c@x.test", 1, progress.Enrolled, "", "nurturing", "", 2*time.Hour)
	record("c@x.test", 1, progress.Stage, "evaluation", "nurturing", "", 2*time.Hour)
	record("c@x.test", 1, progress.MQL, "evaluation", "mql", "", day+2*time.Hour)
	record("c@x.test", 1, progress.HandedOff, "evaluation", "handed_off", "", day+2*time.Hour)
	handoff("c@x.test", "", day+2*time.Hour)
	taskID, _, err := store.InsertTask(ctx, pool, store.Task{Key: "t-c", LeadID: leads["c@x.test"].ID, JourneyID: "j", Version: 1, StepID: "call", Title: "Call", Assignee: "sales", Cost: 30, Outcomes: []string{"reached"}})
	require.NoError(t, err)
	require.NoError(t, store.SetTaskOutcome(ctx, pool, taskID, "reached", ""))
	// D, in version 2: unsubscribed at interest.
	record("d@x.test", 2, progress.Enrolled, "", "nurturing", "", 0)
	record("d@x.test", 2, progress.Stage, "interest", "nurturing", "", 0)
	record("d@x.test", 2, progress.Exited, "interest", "exited", "unsubscribe", day)

	rs, err := store.Reports(ctx, pool, store.ReportFilter{JourneyID: "j", Since: t0.Add(-day)})
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, 2, rs[0].Version, "newest version first")
	require.Equal(t, 1, rs[0].Leads)
	require.Equal(t, []store.ExitCount{{Stage: "interest", Reason: "unsubscribe", Leads: 1}}, rs[0].Exits)

	r := rs[1]
	require.Equal(t, 3, r.Leads)
	require.Equal(t, []store.StageCount{{Stage: "interest", Reached: 2, EnteredHere: 2}, {Stage: "consideration", Reached: 1, EnteredHere: 0, FromBefore: 1},
		{Stage: "evaluation", Reached: 1, EnteredHere: 1, FromBefore: 0}}, r.Stages, "in the journey's order; C entered at evaluation, not from consideration")
	require.Equal(t, 2, r.MQL)
	require.Equal(t, 2, r.Handoffs)
	require.EqualValues(t, map[string]int{"accepted": 1}, r.Verdicts)
	require.Equal(t, 1, r.Waiting)
	require.Equal(t, []store.ExitCount{{Stage: "interest", Reason: "no_engagement", Leads: 1}}, r.Exits, "a goal is not an exit")
	require.Equal(t, map[string]int{"verdict:accepted": 1}, r.Goals)
	require.Empty(t, rs[0].Goals)
	require.InDelta(t, 1.5, *r.DaysToMQL, 1e-9, "median of 2 days and 1 day")
	require.InDelta(t, 2.5, *r.DaysToHandoff, 1e-9, "median of 4 days and 1 day")
	require.Equal(t, []store.Touchpoint{
		{Kind: "content", ID: "c1", Sent: 2, Opened: 1, Clicked: 1, Cost: 1, Assisted: 1, Outcomes: map[string]int{}},
		{Kind: "content", ID: "c2", Sent: 1, Cost: 0.5, Assisted: 1, Outcomes: map[string]int{}},
		{Kind: "task", ID: "call", Sent: 1, Cost: 30, Outcomes: map[string]int{"reached": 1}},
	}, r.Touchpoints)
	require.InDelta(t, 31.5, r.Cost, 1e-9)

	// Since: only enrolments that entered from then on.
	rs, err = store.Reports(ctx, pool, store.ReportFilter{JourneyID: "j", Version: 1, Since: t0.Add(90 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, 1, rs[0].Leads, "only C entered after")
}
