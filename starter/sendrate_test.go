package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// burstJourney sends its one email when its date comes, to every lead at
// once: a send window that opens at the same moment for all of them.
const burstJourney = `id: %s
name: Burst
scoring:
  mql: 10
  events:
    webinar_signup: {points: 5, axis: interest}
handoff:
  min_score: 100
content:
  - {id: hello, stage: one, subject: "Hello {{.FirstName}}", text: "Hi. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - {id: open, wait_until: {date: "%s"}}
      - {id: hello, send: hello}
      - {id: bye, exit: done}
`

// burst publishes a burst journey that opens at open and enrols the
// addresses in it from 8 senders at once. It returns how many enrolments
// ended after open (those leads' emails go at once).
func (s *system) burst(t testing.TB, ctx context.Context, id string, open time.Time, addrs []string) int {
	t.Helper()
	publishBurstJourney(t, ctx, s.db, id, open)
	var late atomic.Int64
	err := fanOut(8, len(addrs), func(i int) error {
		if _, err := s.intake.Enroll(ctx, lead.Profile{Email: addrs[i], FirstName: "Lead"}, id, ""); err != nil {
			return fmt.Errorf("enrol %s: %w", addrs[i], err)
		}
		if time.Now().After(open) {
			late.Add(1)
		}
		return nil
	})
	require.NoError(t, err)
	return int(late.Load())
}

// publishBurstJourney publishes a burst journey id whose moment is open.
func publishBurstJourney(t testing.TB, ctx context.Context, db store.DB, id string, open time.Time) {
	t.Helper()
	src := fmt.Sprintf(burstJourney, id, open.UTC().Format(time.RFC3339))
	j, err := journeys.Parse(id+".yaml", []byte(src))
	require.NoError(t, err)
	_, err = store.PublishJourney(ctx, db, j, []byte(src))
	require.NoError(t, err)
}

// awaitJourneysEnded waits until no journey runs: every send that will
// ever happen has happened.
func (s *system) awaitJourneysEnded(t testing.TB, ctx context.Context) {
	t.Helper()
	for {
		res, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Running'"})
		require.NoError(t, err)
		if res.GetCount() == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("journeys still running: %d (%v)", res.GetCount(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// arrivals is what the SMTP sink got of a burst: each address's messages.
type arrivals struct {
	// lost are addresses that got nothing, dups those that got more than
	// one, early the messages received before open.
	lost, dups, early int
	// at are the times messages arrived, in order, by recipient domain.
	at map[string][]time.Time
	// all are the times of every message, in order.
	all []time.Time
}

func countArrivals(msgs []smtpsink.Message, addrs []string, open time.Time) arrivals {
	a := arrivals{at: map[string][]time.Time{}}
	got := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			got[to]++
			d := activities.RecipientDomain(to)
			a.at[d] = append(a.at[d], m.Received)
		}
		a.all = append(a.all, m.Received)
		if m.Received.Before(open) {
			a.early++
		}
	}
	for _, addr := range addrs {
		switch n := got[addr]; {
		case n == 0:
			a.lost++
		case n > 1:
			a.dups++
		}
	}
	for _, ts := range a.at {
		slices.SortFunc(ts, time.Time.Compare)
	}
	slices.SortFunc(a.all, time.Time.Compare)
	return a
}

// domainLimitHeld checks the per-domain limit on what arrived: no window
// holds more slots than the limit, and no email arrived before its slot's
// window opened (by any time t, at most as many emails of a domain arrived
// as slots in windows opened by t: a send takes its slot before it goes).
// Causal, not timed: a slow machine cannot break it.
func domainLimitHeld(t testing.TB, ctx context.Context, s *system, a arrivals, limit int) map[string]int {
	t.Helper()
	slots, err := store.DomainSlots(ctx, s.db)
	require.NoError(t, err)
	byDomain := map[string][]store.DomainSlot{}
	most := map[string]int{}
	for _, sl := range slots {
		require.LessOrEqual(t, sl.Sends, limit, "window %s of %s", sl.Start, sl.Domain)
		byDomain[sl.Domain] = append(byDomain[sl.Domain], sl)
		most[sl.Domain] = max(most[sl.Domain], sl.Sends)
	}
	for domain, times := range a.at {
		ws := byDomain[domain]
		for i, at := range times {
			opened := 0
			for _, w := range ws {
				if !w.Start.After(at) {
					opened += w.Sends
				}
			}
			require.LessOrEqual(t, i+1, opened, "email %d to %s arrived at %s, before its slot's window", i+1, domain, at.Format(time.RFC3339Nano))
		}
	}
	return most
}

// TestSendRateAndDomainLimitHold: a burst of leads whose email falls due at
// the same moment. Their emails go through the send queue; each arrives
// exactly once and none before the moment; the queue's rate (across
// workers, by the server; or the worker's own) bounds how fast they go,
// and the per-domain limit how many a domain gets in a window.
func TestSendRateAndDomainLimitHold(t *testing.T) {
	t.Parallel()
	const rate = 10.0
	for _, tc := range []struct {
		name  string
		rates journeyworker.Rates
		limit activities.DomainLimit
	}{
		{"cluster rate", journeyworker.Rates{Cluster: rate}, activities.DomainLimit{}},
		{"worker rate and domain limit", journeyworker.Rates{Worker: rate}, activities.DomainLimit{Sends: 4, Per: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := startSystem(t, "", 1, func(s *system) { s.rates, s.domainLimit = tc.rates, tc.limit })
			// 16 leads on one busy domain, 24 on domains of their own.
			var addrs []string
			for i := range 40 {
				if i%5 < 2 {
					addrs = append(addrs, fmt.Sprintf("lead%02d@busy.test", i))
				} else {
					addrs = append(addrs, fmt.Sprintf("lead%02d@co%02d.test", i, i))
				}
			}
			// The moment is a whole second a little ahead: no email may
			// arrive before it, however slow the enrolment.
			open := time.Now().Add(2 * time.Second).Truncate(time.Second)
			s.burst(t, ctx, "burst", open, addrs)
			_, err := s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= len(addrs) })
			require.NoError(t, err)
			s.awaitJourneysEnded(t, ctx)

			a := countArrivals(s.sink.Messages(), addrs, open)
			require.Zero(t, a.lost, "every lead got its email")
			require.Zero(t, a.dups, "none twice")
			require.Zero(t, a.early, "none before its moment")
			require.Len(t, a.all, len(addrs))

			// No send is dispatched before the moment, and the queue lets
			// at most a second's worth through at once (a burst of the
			// rate, plus one per partition of the queue for rounding):
			// the last cannot have arrived sooner than this.
			burst := rate + 4
			least := time.Duration((float64(len(addrs)) - burst) / rate * float64(time.Second))
			require.GreaterOrEqual(t, a.all[len(a.all)-1].Sub(open), least, "%d emails at %g a second", len(addrs), rate)

			// Every journey email was scheduled on the send queue.
			iter := s.client.GetWorkflowHistory(ctx, workflows.WorkflowID(lead.IDForEmail(addrs[0])), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			sends := 0
			for iter.HasNext() {
				ev, err := iter.Next()
				require.NoError(t, err)
				if at := ev.GetActivityTaskScheduledEventAttributes(); at != nil && at.GetActivityType().GetName() == "SendContent" {
					require.Equal(t, workflows.SendTaskQueue(t.Name()), at.GetTaskQueue().GetName())
					sends++
				}
			}
			require.Equal(t, 1, sends)

			if tc.limit.Sends > 0 {
				most := domainLimitHeld(t, ctx, s, a, tc.limit.Sends)
				require.Equal(t, tc.limit.Sends, most["busy.test"], "busy.test's windows filled up to the limit")
				require.Len(t, a.at["busy.test"], 16)
			}
		})
	}
}
