package workflows

import "go.temporal.io/sdk/worker"

// Register registers the workflows on a worker.
func Register(w worker.Registry) { w.RegisterWorkflow(LeadJourney) }
