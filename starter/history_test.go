package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

// TestAJourneyWritesALeanHistory: what a lead's enrolment, first email
// and wait cost in its history, counted on the real server: one version
// marker (the engine's; the SDK upserts TemporalChangeVersion with each
// marker), the search attributes upserted once per workflow task that
// changed them, and one timer for the wait. The journey runs a day a
// second, so the quiet lead leaves after its 7 days, and the search
// attributes of the closed workflow say so.
func TestAJourneyWritesALeanHistory(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startSystem(t, "", 86400)
	p, err := s.enroll(ctx, lead.Profile{Email: "quiet@lean.test"})
	require.NoError(t, err)
	id := workflows.WorkflowID(p.ID)
	var kinds map[string]int
	eventually(t, "the journey ends", func() bool {
		d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err)
		return d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	kinds = map[string]int{}
	var versions []string
	it := s.client.GetWorkflowHistory(ctx, id, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		kinds[ev.GetEventType().String()]++
		if m := ev.GetMarkerRecordedEventAttributes(); m.GetMarkerName() == "Version" {
			versions = append(versions, string(m.GetDetails()["change-id"].GetPayloads()[0].GetData()))
		}
	}
	// Two emails (the report, the reminder after 3 days), two waits, the
	// exit after 4 more days: three workflow tasks that change the lead,
	// one more for each email's outcome.
	require.Equal(t, []string{`"engine"`}, versions, "one version marker")
	require.Equal(t, 2, kinds["ActivityTaskScheduled"], "the two emails")
	require.Equal(t, 2, kinds["TimerStarted"], "a timer for each wait: %v", kinds)
	require.LessOrEqual(t, kinds["UpsertWorkflowSearchAttributes"], kinds["WorkflowTaskCompleted"], "at most one upsert a task: %v", kinds)
	require.LessOrEqual(t, kinds["UpsertWorkflowSearchAttributes"], 5, "%v", kinds)

	// The last task published the exit before the workflow closed.
	eventually(t, "the closed journey found as exited", func() bool {
		res, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: `NurtureLifecycle = "exited" AND WorkflowId = "` + id + `"`})
		require.NoError(t, err)
		return len(res.GetExecutions()) == 1
	})
}
