package workflows

import (
	"sort"

	"go.temporal.io/sdk/worker"
)

// Register registers the workflows on a worker.
func Register(w worker.Registry) { w.RegisterWorkflow(LeadJourney) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
