package simulate_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/simulate"
)

// bare is the floor: a workflow that only waits as long as a journey
// lives, on the same time-skipping environment.
func bare(ctx workflow.Context) error { return workflow.Sleep(ctx, 26*7*24*time.Hour) }

// BenchmarkCohort forecasts 500 leads of the shipped journey with the
// shipped model (26 weeks each) on two workers, and in the same run starts
// as many bare workflows on the same environment, one after the other per
// worker: leads/s for each and their ratio.
//
//	go test ./simulate -run '^$' -bench Cohort -benchtime 1x -count 3
func BenchmarkCohort(b *testing.B) {
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	if err != nil {
		b.Fatal(err)
	}
	r, _, err := journeys.LoadShipped("recycle-nurture.yaml")
	if err != nil {
		b.Fatal(err)
	}
	m := shippedModelB(b)
	const leads, workers = 500, 2
	for b.Loop() {
		began := time.Now()
		done := make(chan struct{})
		for range workers {
			go func() {
				defer func() { done <- struct{}{} }()
				for range leads / workers {
					var suite testsuite.WorkflowTestSuite
					suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
					env := suite.NewTestWorkflowEnvironment()
					env.SetStartTime(start)
					env.RegisterWorkflow(bare)
					env.ExecuteWorkflow(bare)
				}
			}()
		}
		for range workers {
			<-done
		}
		floor := float64(leads) / time.Since(began).Seconds()

		began = time.Now()
		if _, err := simulate.Cohort(simulate.CohortOptions{Journey: j, Others: []*journeys.Journey{r}, Model: m, Leads: leads, Seed: 1, Start: start, Workers: workers}); err != nil {
			b.Fatal(err)
		}
		rate := float64(leads) / time.Since(began).Seconds()
		b.ReportMetric(floor, "bare/s")
		b.ReportMetric(rate, "leads/s")
		b.ReportMetric(rate/floor, "ratio")
	}
}

func shippedModelB(b *testing.B) *simulate.Model {
	b.Helper()
	data, err := readModel()
	if err != nil {
		b.Fatal(err)
	}
	m, err := simulate.ParseModel("b2b-engagement.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	return m
}
