// Package journeyworker wires the Temporal workers that run lead journeys:
// the LeadJourney workflow and every activity it calls on the deployment's
// task queue, and journey emails on its send queue
// (workflows.SendTaskQueue), where their rate is limited. The worker
// binary, the demo and the integration tests all make their workers here,
// so they run the same registrations.
package journeyworker

import (
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Rates limit journey emails (SEND_RATE, SEND_RATE_PER_WORKER): emails a
// second across every worker of the deployment, and from this worker.
// Zero is no limit.
type Rates struct {
	// Cluster is the send queue's rate, enforced by the Temporal server
	// for all its workers (TaskQueueActivitiesPerSecond). Every worker
	// should be given the same: the server takes the one the latest poll
	// carried.
	Cluster float64
	// Worker is this worker's own rate (WorkerActivitiesPerSecond), for
	// an SMTP relay per worker or a host's share.
	Worker float64
}

// Workers are the two workers of one process: journeys (workflows and
// every activity) on the task queue, sends on the send queue.
type Workers struct {
	Journeys, Sends worker.Worker
}

// New makes (and does not start) the workers of lead journeys on
// taskQueue and its send queue. opts are both workers' options; rates are
// the send queue's.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts worker.Options, rates Rates) *Workers {
	autoscalePollers(&opts)
	w := worker.New(c, taskQueue, opts)
	workflows.Register(w)
	// Every activity stays registered here, SendContent too: journeys
	// started before the send queue send on this queue until they
	// continue as new.
	activities.Register(w, acts)

	sendOpts := opts
	sendOpts.TaskQueueActivitiesPerSecond = rates.Cluster
	sendOpts.WorkerActivitiesPerSecond = rates.Worker
	s := worker.New(c, workflows.SendTaskQueue(taskQueue), sendOpts)
	// Only the send: nothing else waits behind the rate.
	s.RegisterActivityWithOptions(acts.SendContent, activity.RegisterOptions{Name: sendContent})
	return &Workers{Journeys: w, Sends: s}
}

// autoscalePollers lets the number of pollers follow the work, unless
// opts fix it. With the SDK's default of two pollers for each kind of
// task, a worker on a Temporal server persisted to PostgreSQL took workflow
// tasks more slowly than an import made them while its CPU was half idle:
// each poll waits for the server's write of the task's start, and the
// queue's four partitions each want a poller. Autoscaling pollers (the
// server says when more would find work) took that backlog away (see the
// README's Performance).
func autoscalePollers(opts *worker.Options) {
	if opts.WorkflowTaskPollerBehavior == nil && opts.MaxConcurrentWorkflowTaskPollers == 0 {
		opts.WorkflowTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	}
	if opts.ActivityTaskPollerBehavior == nil && opts.MaxConcurrentActivityTaskPollers == 0 {
		opts.ActivityTaskPollerBehavior = worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	}
}

// sendContent is the activity name the workflow schedules sends under:
// the method's name, as worker.RegisterActivity registers it.
const sendContent = "SendContent"

// Start starts both workers; if the second fails, the first is stopped.
func (w *Workers) Start() error {
	if err := w.Journeys.Start(); err != nil {
		return fmt.Errorf("start the journey worker: %w", err)
	}
	if err := w.Sends.Start(); err != nil {
		w.Journeys.Stop()
		return fmt.Errorf("start the send worker: %w", err)
	}
	return nil
}

// Stop stops both workers: sends first, so no email starts while the
// journeys drain.
func (w *Workers) Stop() {
	w.Sends.Stop()
	w.Journeys.Stop()
}

// Activities are the activities the settings describe, on the database
// and the mail sender given.
func Activities(cfg *config.Config, db store.DB, mail *email.Sender, signer links.Signer, log *slog.Logger) *activities.Activities {
	return &activities.Activities{
		DB: db, Mail: mail, SalesEmail: cfg.SalesEmail, Log: log, Links: signer,
		Track: cfg.Tracking == "on", Provider: cfg.EmailProvider,
		CRM:         activities.CRM{URL: cfg.CRMURL, Secret: []byte(cfg.CRMSecret)},
		DomainLimit: activities.DomainLimit{Sends: cfg.SendRatePerDomain, Per: time.Minute},
	}
}

// SendRates are the send queue's rates the settings describe.
func SendRates(cfg *config.Config) Rates {
	return Rates{Cluster: cfg.SendRate, Worker: cfg.SendRatePerWorker}
}
