package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// SendTaskQueue is the task queue of a deployment's journey emails, beside
// its main task queue: only the SendContent activity runs on it, so its
// rate can be limited (SEND_RATE across the cluster, enforced by the
// Temporal server; SEND_RATE_PER_WORKER by each worker) without slowing
// workflow tasks, progress writes or hand-offs. A send waiting for its
// turn waits there, durably, as a scheduled activity.
func SendTaskQueue(taskQueue string) string { return taskQueue + sendQueueSuffix }

// sendQueueSuffix names the send queue after the main one, so the one
// setting TEMPORAL_TASK_QUEUE names both.
const sendQueueSuffix = "-send"

// versionSendQueue guards journey emails going through the send queue:
// histories from before it scheduled SendContent on the workflow's own
// task queue, and keep doing so until they continue as new.
const versionSendQueue = "send-queue"

// sendOptions are mailOptions on the send queue, for a journey email.
// Nothing more is needed for the wait in the queue: the activity has no
// schedule-to-start or schedule-to-close timeout, its start-to-close and
// heartbeat timeouts count from when a worker starts it, and a send held
// for its domain's slot is retried for as long as it takes (the retry
// policy has no maximum attempts).
func (r *run) sendOptions() workflow.Context {
	ctx := mailOptions(r.ctx)
	if !r.has(versionSendQueue) {
		return ctx
	}
	opts := workflow.GetActivityOptions(ctx)
	opts.TaskQueue = SendTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	return workflow.WithActivityOptions(ctx, opts)
}
