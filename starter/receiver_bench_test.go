package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/webhook"
)

// BenchmarkReceiver loads the HTTP edge on the embedded stack: signed
// events POSTed over loopback to the receiver (store in PostgreSQL,
// signal, then rescore and persist in the workflow), next to the floor
// measured in the same run: as many bare SignalWithStart calls to a no-op
// workflow on the same server. It reports accepted/s (the request
// returned), processed/s (until the score is persisted; for the floor,
// until the workflow counted it), request-to-processed p50/p99, and then
// the request latency (accepted) of each at half the floor's accepted
// rate, sent open-loop at a fixed pace.
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
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders * 2}}
	edge := engine{name: "receiver", send: func(ctx context.Context, l lead.Profile, ev lead.Event) error {
		body, err := json.Marshal(webhook.EventIn{ID: ev.ID, Type: string(ev.Type), LeadID: l.ID})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, time.Now(), body))
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST /v1/events: %s", resp.Status)
		}
		return nil
	}, processed: storedScore(b, s)}

	for i := 0; i < b.N; i++ {
		leads := make([]lead.Profile, benchLeads)
		for n := range leads {
			res, err := s.intake.Enroll(ctx, lead.Profile{Email: fmt.Sprintf("edge-%d-%d@load.test", i, n)}, "", "")
			if err != nil {
				b.Fatal(err)
			}
			leads[n] = res.Profile
		}
		if _, err := s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= (i+1)*benchLeads }); err != nil {
			b.Fatal(err)
		}
		idPrefix := fmt.Sprintf("edge%d", i)
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
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("no request answered")
	}
	return [2]time.Duration{lat[len(lat)/2], lat[len(lat)*99/100]}
}
