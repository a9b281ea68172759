// Command worker runs nurture's Temporal worker (package workercmd): the
// LeadJourney workflow and its activities. Run as many as the load needs;
// they share the task queue. `worker -h` lists its settings.
package main

import (
	"os"

	"github.com/nurture-dev/nurture/internal/workercmd"
)

func main() { os.Exit(workercmd.Main(os.Args[1:])) }
