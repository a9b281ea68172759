package workflows_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/workflows"
)

// TestJourneyEmailsGoThroughTheSendQueue: a journey's emails are scheduled
// on the send queue, where their rate is limited, and every other activity
// on the workflow's own queue; a history from before the send queue (its
// version marker absent) keeps sending on its own queue.
func TestJourneyEmailsGoThroughTheSendQueue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		before bool
	}{{"new", false}, {"before the send queue", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tc.before {
				b.env.OnGetVersion("engine", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
				b.env.OnGetVersion("send-queue", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			var mu sync.Mutex
			queues := map[string]map[string]bool{}
			b.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				mu.Lock()
				defer mu.Unlock()
				if queues[info.ActivityType.Name] == nil {
					queues[info.ActivityType.Name] = map[string]bool{}
				}
				queues[info.ActivityType.Name][info.TaskQueue] = true
			})
			const own = "journeys"
			b.env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: own})
			b.env.ExecuteWorkflow(workflows.LeadJourney, b.input)
			b.result(t)
			require.Len(t, b.rec.sends, 2, "the email and its reminder")

			want := workflows.SendTaskQueue(own)
			if tc.before {
				want = own
			}
			require.Equal(t, map[string]bool{want: true}, queues["SendContent"])
			for name, qs := range queues {
				if name != "SendContent" {
					require.Equal(t, map[string]bool{own: true}, qs, "%s runs on the workflow's queue", name)
				}
			}
		})
	}
}
