// Package journeyworker wires a Temporal worker that runs lead journeys:
// the LeadJourney workflow and every activity it calls, on one task queue.
// The worker binary, the demo and the integration tests all make their
// workers here, so they run the same registrations.
package journeyworker

import (
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// New makes (and does not start) a worker of lead journeys.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts worker.Options) worker.Worker {
	w := worker.New(c, taskQueue, opts)
	workflows.Register(w)
	activities.Register(w, acts)
	return w
}

// Activities are the activities the settings describe, on the database
// and the mail sender given.
func Activities(cfg *config.Config, db store.DB, mail *email.Sender, signer links.Signer, log *slog.Logger) *activities.Activities {
	return &activities.Activities{
		DB: db, Mail: mail, SalesEmail: cfg.SalesEmail, Log: log, Links: signer,
		Track: cfg.Tracking == "on", Provider: cfg.EmailProvider,
		CRM: activities.CRM{URL: cfg.CRMURL, Secret: []byte(cfg.CRMSecret)},
	}
}
