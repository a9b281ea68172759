package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

// BenchmarkReceiver loads the HTTP edge on the embedded stack: signed
// events POSTed over loopback to the receiver (store in PostgreSQL,
// signal, then rescore and persist in the workflow), next to the floor
// measured in the same run: as many bare SignalWithStart calls to a no-op
// workflow on the same server.
//
// First each side alone, on workflows no worker runs, so that neither
// side's processing competes with the other's accept: the accepted rate
// of the edge, of bare SignalWithStart, and of the edge's PostgreSQL write
// by itself (store-alone), which together explain the gap. Then with the
// workers running: accepted/s (the request returned), processed/s (until
// the score is persisted; for the floor, until the workflow counted it),
// request-to-processed p50/p99, and the request latency of each at half
// the floor's accepted rate, sent open-loop at a fixed pace.
// Run: go test ./starter -run '^$' -bench Receiver -benchtime 1x -count 3
func BenchmarkReceiver(b *testing.B) {
	ctx := context.Background()
	s := startSystem(b, "", 1)
	bare := bareEngine(b, s)
	secret := []byte("bench-webhook-secret-0123456789abcdef")
	keys, err := links.ParseKeys(testLinkSecret)
	if err != nil {
		b.Fatal(err)
	}
	srv := &webhook.Server{DB: s.db, Temporal: s.client, Intake: s.intake, Secrets: [][]byte{secret}, Log: testLogger(),
		Links: links.Signer{Keys: keys, BaseURL: "http://127.0.0.1"}}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}
	edge := engine{name: "receiver", send: post(hc, ts.URL, secret), processed: storedScore(b, s)}

	// The sides alone: leads whose workflows no worker runs (a task queue
	// nobody polls).
	idleQueue := "idle-" + b.Name()
	idleIntake := *s.intake
	idleIntake.TaskQueue = idleQueue
	idleSrv := *srv
	idleSrv.Intake = &idleIntake
	idleTS := httptest.NewServer(idleSrv.Handler())
	defer idleTS.Close()
	idleEdge := edge
	idleEdge.name = "idle-edge"
	idleEdge.send = post(hc, idleTS.URL, secret)
	idleBare := engine{name: "idle-bare", send: func(ctx context.Context, l lead.Profile, ev lead.Event) error {
		_, err := s.client.SignalWithStartWorkflow(ctx, "idle-bare-"+l.ID, workflows.SignalEngagement, ev,
			client.StartWorkflowOptions{ID: "idle-bare-" + l.ID, TaskQueue: idleQueue}, bareLead, workflows.Input{Lead: l})
		return err
	}}
	storeOnly := engine{name: "store-only", send: func(ctx context.Context, _ lead.Profile, ev lead.Event) error {
		_, _, err := store.StoreEvent(ctx, s.db, ev)
		return err
	}}

	for i := 0; i < b.N; i++ {
		idle := enrollLeads(b, ctx, &idleIntake, fmt.Sprintf("idle-%d", i))
		idPrefix := fmt.Sprintf("idle%d", i)
		bareAlone := acceptedRate(b, ctx, idleBare, idle, idPrefix)
		edgeAlone := acceptedRate(b, ctx, idleEdge, idle, idPrefix)
		storeAlone := acceptedRate(b, ctx, storeOnly, idle, idPrefix)
		b.ReportMetric(bareAlone, "bare-alone-accepted/s")
		b.ReportMetric(edgeAlone, "edge-alone-accepted/s")
		b.ReportMetric(storeAlone, "store-alone/s")
		b.ReportMetric(edgeAlone/bareAlone, "alone-accepted-ratio")

		leads := enrollLeads(b, ctx, s.intake, fmt.Sprintf("edge-%d", i))
		if _, err := s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= (i+1)*benchLeads }); err != nil {
			b.Fatal(err)
		}
		idPrefix = fmt.Sprintf("edge%d", i)
		floor := measure(b, ctx, bare, leads, idPrefix)
		got := measure(b, ctx, edge, leads, idPrefix)
		half := floor.acceptedPerSec / 2
		bareLat := paced(b, ctx, bare, leads, idPrefix+"-paced", half)
		edgeLat := paced(b, ctx, edge, leads, idPrefix+"-paced", half)

		b.ReportMetric(floor.acceptedPerSec, "bare-accepted/s")
		b.ReportMetric(got.acceptedPerSec, "edge-accepted/s")
		b.ReportMetric(got.acceptedPerSec/floor.acceptedPerSec, "accepted-ratio")
		b.ReportMetric(floor.processedPerSec, "bare-processed/s")
		b.ReportMetric(got.processedPerSec, "edge-processed/s")
		b.ReportMetric(got.processedPerSec/floor.processedPerSec, "processed-ratio")
		b.ReportMetric(ms(floor.p50), "bare-p50-ms")
		b.ReportMetric(ms(floor.p99), "bare-p99-ms")
		b.ReportMetric(ms(got.p50), "edge-p50-ms")
		b.ReportMetric(ms(got.p99), "edge-p99-ms")
		b.ReportMetric(half, "half-load/s")
		b.ReportMetric(ms(bareLat[0]), "bare-half-p50-ms")
		b.ReportMetric(ms(bareLat[1]), "bare-half-p99-ms")
		b.ReportMetric(ms(edgeLat[0]), "edge-half-p50-ms")
		b.ReportMetric(ms(edgeLat[1]), "edge-half-p99-ms")
	}
}

// benchAloneEach is how many events acceptedRate sends to each lead.
const benchAloneEach = 100

// post sends an event to a receiver, signed, as a website would.
func post(hc *http.Client, base string, secret []byte) func(ctx context.Context, l lead.Profile, ev lead.Event) error {
	return func(ctx context.Context, l lead.Profile, ev lead.Event) error {
		body, err := json.Marshal(webhook.EventIn{ID: ev.ID, Type: string(ev.Type), LeadID: l.ID})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, time.Now(), body))
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		// Read to the end so that the connection is reused.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST /v1/events: %s", resp.Status)
		}
		return nil
	}
}

// acceptedRate sends benchAloneEach events to every lead from
// benchSenders goroutines and returns the accepted rate; nothing waits for
// processing. The count is larger than measure's so that the rate is
// taken over seconds, not a fraction of one.
func acceptedRate(b *testing.B, ctx context.Context, e engine, leads []lead.Profile, idPrefix string) float64 {
	b.Helper()
	jobs := make(chan lead.Event)
	var wg sync.WaitGroup
	byID := map[string]lead.Profile{}
	for _, l := range leads {
		byID[l.ID] = l
	}
	start := time.Now()
	for range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range jobs {
				if err := e.send(ctx, byID[ev.LeadID], ev); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for n := range benchAloneEach {
		for _, l := range leads {
			jobs <- lead.Event{ID: fmt.Sprintf("%s-%s-%d", idPrefix, e.name, n), LeadID: l.ID, Type: benchEvent, OccurredAt: time.Now().UTC()}
		}
	}
	close(jobs)
	wg.Wait()
	return float64(benchAloneEach*len(leads)) / time.Since(start).Seconds()
}

// paced sends events at a fixed rate (open loop: a slow answer does not
// slow the next request) for a bounded count, and returns the p50 and p99
// of the time each request took to be answered.
func paced(b *testing.B, ctx context.Context, e engine, leads []lead.Profile, idPrefix string, rate float64) [2]time.Duration {
	b.Helper()
	const count = 400
	every := time.Duration(float64(time.Second) / rate)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := range count {
		<-tick.C
		l := leads[n%len(leads)]
		ev := lead.Event{ID: fmt.Sprintf("%s-%s-%d", idPrefix, e.name, n), LeadID: l.ID, Type: benchEvent, OccurredAt: time.Now().UTC()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if err := e.send(ctx, l, ev); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(lat) == 0 {
		b.Fatal("no request answered")
	}
	return [2]time.Duration{percentile(lat, 50), percentile(lat, 99)}
}
