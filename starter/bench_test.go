package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

// bareLead is the floor: a workflow that receives the same engagement
// signals and only counts them (deduplicated), with the same status query.
func bareLead(ctx workflow.Context, in workflows.Input) error {
	seen := map[string]bool{}
	if err := workflow.SetQueryHandler(ctx, workflows.QueryStatus, func() (workflows.Status, error) {
		return workflows.Status{EventsSeen: len(seen)}, nil
	}); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, workflows.SignalEngagement)
	for {
		var ev lead.Event
		ch.Receive(ctx, &ev)
		seen[ev.ID] = true
	}
}

type engine struct {
	name string
	// send delivers one event the way the engine's edge would.
	send func(ctx context.Context, l lead.Profile, ev lead.Event) error
	// processed says how many events the engine has processed for a lead.
	processed func(ctx context.Context, l lead.Profile) int
}

type measurement struct {
	acceptedPerSec, processedPerSec float64
	p50, p99                        time.Duration
}

// benchEvent is an engagement the shipped model scores without caps or
// repeat rules, so every one processed shows in the score.
const benchEvent = lead.CaseStudyView

const (
	benchLeads       = 20
	benchEventsEach  = 20
	benchSenders     = 8
	benchLatencyRuns = 60
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the p-th percentile of durations (0 when there are none).
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// bareEngine is the floor: bare SignalWithStart calls to a workflow that
// only counts what it receives, on the same server.
func bareEngine(b *testing.B, s *system) engine {
	b.Helper()
	bareQueue := "bare-" + b.Name()
	bw := worker.New(s.client, bareQueue, worker.Options{})
	bw.RegisterWorkflow(bareLead)
	if err := bw.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bw.Stop)
	return engine{name: "bare", send: func(ctx context.Context, l lead.Profile, ev lead.Event) error {
		_, err := s.client.SignalWithStartWorkflow(ctx, "bare-"+l.ID, workflows.SignalEngagement, ev,
			client.StartWorkflowOptions{ID: "bare-" + l.ID, TaskQueue: bareQueue}, bareLead, workflows.Input{Lead: l})
		return err
	}, processed: func(ctx context.Context, l lead.Profile) int {
		// The floor has no database: ask the workflow.
		v, err := s.client.QueryWorkflow(ctx, "bare-"+l.ID, "", workflows.QueryStatus)
		if err != nil {
			b.Fatalf("query: %v", err)
		}
		var st workflows.Status
		if err := v.Get(&st); err != nil {
			b.Fatal(err)
		}
		return st.EventsSeen
	}}
}

// enrollLeads enrols benchLeads leads whose addresses start with prefix.
func enrollLeads(b *testing.B, ctx context.Context, in *ingest.Intake, prefix string) []lead.Profile {
	b.Helper()
	leads := make([]lead.Profile, benchLeads)
	for n := range leads {
		res, err := in.Enroll(ctx, lead.Profile{Email: fmt.Sprintf("%s-%d@load.test", prefix, n)}, "", "")
		if err != nil {
			b.Fatal(err)
		}
		leads[n] = res.Profile
	}
	return leads
}

// storedScore says how many case-study views (5 points each, no cap, no
// repeat rule in the shipped model) a fresh lead's stored score counts:
// processed means rescored and persisted.
func storedScore(b *testing.B, s *system) func(ctx context.Context, l lead.Profile) int {
	return func(ctx context.Context, l lead.Profile) int {
		var score int
		if err := s.db.QueryRow(ctx, `select score from leads where id = $1`, l.ID).Scan(&score); err != nil {
			b.Fatal(err)
		}
		return score / 5
	}
}

// measure sends benchEventsEach events to every lead from benchSenders
// goroutines (throughput), then benchLatencyRuns events one at a time, each
// timed from request until the workflow reports it processed (latency).
func measure(b *testing.B, ctx context.Context, e engine, leads []lead.Profile, idPrefix string) measurement {
	b.Helper()
	type job struct {
		l  lead.Profile
		ev lead.Event
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	errs := make(chan error, benchSenders)
	start := time.Now()
	for range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := e.send(ctx, j.l, j.ev); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for n := range benchEventsEach {
		for _, l := range leads {
			jobs <- job{l, lead.Event{ID: fmt.Sprintf("%s-%s-%s-%d", idPrefix, e.name, l.ID, n), LeadID: l.ID, Type: benchEvent, OccurredAt: time.Now().UTC()}}
		}
	}
	close(jobs)
	wg.Wait()
	accepted := time.Since(start)
	select {
	case err := <-errs:
		b.Fatalf("%s: %v", e.name, err)
	default:
	}
	seen := func(l lead.Profile) int { return e.processed(ctx, l) }
	pendingLeads := append([]lead.Profile(nil), leads...)
	for len(pendingLeads) > 0 {
		var still []lead.Profile
		for _, l := range pendingLeads {
			if seen(l) < benchEventsEach {
				still = append(still, l)
			}
		}
		pendingLeads = still
		if len(still) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	processed := time.Since(start)
	total := float64(benchEventsEach * len(leads))

	var lat []time.Duration
	for n := range benchLatencyRuns {
		l := leads[n%len(leads)]
		before := seen(l)
		t0 := time.Now()
		if err := e.send(ctx, l, lead.Event{ID: fmt.Sprintf("%s-%s-lat-%d", idPrefix, e.name, n), LeadID: l.ID, Type: benchEvent, OccurredAt: time.Now().UTC()}); err != nil {
			b.Fatal(err)
		}
		for seen(l) == before {
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	return measurement{
		acceptedPerSec:  total / accepted.Seconds(),
		processedPerSec: total / processed.Seconds(),
		p50:             percentile(lat, 50),
		p99:             percentile(lat, 99),
	}
}

// historyCost counts a workflow's history events and their encoded size.
func historyCost(b *testing.B, ctx context.Context, c client.Client, workflowID string) (int, int) {
	b.Helper()
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	events, bytes := 0, 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		events++
		bytes += proto.Size(ev)
	}
	return events, bytes
}
