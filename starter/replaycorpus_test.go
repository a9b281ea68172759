package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// TestReplayCorpusPaths runs the paths of the shipped journeys on the
// real system, a journey day lasting a second, and checks how each ends.
// With UPDATE_HISTORIES=1 it records each run's history into
// workflows/testdata, where TestReplayRecordedHistories replays them
// against the current workflow code on every test run: the replay corpus.
//
//	UPDATE_HISTORIES=1 go test ./starter -run TestReplayCorpusPaths
//
// Recording writes the files of the code as it is. Before recording after
// a change of the workflow, rename the files it would overwrite (as
// handoff-rejected-before-crm.json was): journeys started by old code must
// keep replaying.
func TestReplayCorpusPaths(t *testing.T) {
	t.Parallel()
	// CTO of a large company: fit from the start; three intent events hand
	// the lead off.
	cto := func(email string) lead.Profile {
		return lead.Profile{Email: email, FirstName: "Ada", Company: "Analytical Engines", Title: "CTO"}
	}
	handOff := func(t *testing.T, s *system, p lead.Profile) {
		t.Helper()
		for i, typ := range []lead.EventType{lead.DemoRequest, lead.ContactForm, lead.WebinarSignup} {
			s.event(t, p, p.ID+string(rune('a'+i)), typ)
		}
		eventually(t, "handed off", func() bool {
			st, err := workflows.QueryLead(context.Background(), s.client, p.ID)
			return err == nil && st.Lifecycle == workflows.LifecycleHandedOff
		})
	}
	for _, c := range []struct {
		name    string
		journey string
		lead    lead.Profile
		play    func(t *testing.T, s *system, p lead.Profile)
		want    workflows.Result
	}{
		{"handoff-accepted", "", cto("accepted@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			handOff(t, s, p)
			_, err := workflows.SendVerdict(context.Background(), s.client, p.ID, workflows.SalesFeedback{Verdict: workflows.VerdictAccepted, Reason: "meeting booked"})
			require.NoError(t, err)
		}, workflows.Result{Lifecycle: workflows.LifecycleSQL}},
		{"handoff-rejected", "", cto("rejected@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			handOff(t, s, p)
			_, err := workflows.SendVerdict(context.Background(), s.client, p.ID, workflows.SalesFeedback{Verdict: workflows.VerdictRejected, Reason: "no budget"})
			require.NoError(t, err)
		}, workflows.Result{Lifecycle: workflows.LifecycleDisqualified}},
		{"handoff-recycled", "", cto("recycled@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			handOff(t, s, p)
			_, err := workflows.SendVerdict(context.Background(), s.client, p.ID, workflows.SalesFeedback{Verdict: workflows.VerdictRecycle, Reason: "next year"})
			require.NoError(t, err)
		}, workflows.Result{}},
		{"unsubscribed", "", cto("unsubscribed@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			// After the first email, as a real unsubscribe comes: one sent
			// before it would race the send, which then finds the address
			// suppressed and exits "suppressed: unsubscribe" instead.
			eventually(t, "the first email", func() bool { return len(s.sink.To(p.Email)) == 1 })
			s.event(t, p, "u1", lead.Unsubscribe)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "unsubscribe"}},
		{"bounced", "", cto("bounced@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			// A bounce answers a send; one before it would race the send.
			eventually(t, "the first email", func() bool { return len(s.sink.To(p.Email)) == 1 })
			s.event(t, p, "b1", lead.HardBounce)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "hard_bounce"}},
		{"no-engagement", "", lead.Profile{Email: "quiet@kernel.test", FirstName: "Linus"}, func(*testing.T, *system, lead.Profile) {},
			workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "no_engagement"}},
		{"task-outcome", "recycle-nurture", cto("task@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			// The journey waits on the task once its state says so (the
			// task's row is written a moment before).
			eventually(t, "the check-in call given", func() bool {
				st, err := workflows.QueryLead(context.Background(), s.client, p.ID)
				return err == nil && st.TaskID != 0
			})
			_, err := workflows.SendTaskOutcome(context.Background(), s.client, p.ID, workflows.TaskOutcome{Outcome: "not_now", Note: "call in spring"})
			require.NoError(t, err)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited}},
		{"paused-resumed", "", cto("paused@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			// The journey was paused before the enrolment (below): its first
			// send waits, then goes on resume.
			time.Sleep(2 * time.Second)
			require.Empty(t, s.sink.To(p.Email), "nothing goes out while paused")
			_, err := store.ResumeJourney(context.Background(), s.db, "b2b-nurture")
			require.NoError(t, err)
			eventually(t, "the first email after the resume", func() bool { return len(s.sink.To(p.Email)) == 1 })
			s.event(t, p, "u1", lead.Unsubscribe)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "unsubscribe"}},
		{"removed", "", cto("removed@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			eventually(t, "the first email", func() bool { return len(s.sink.To(p.Email)) == 1 })
			_, err := workflows.RemoveLead(context.Background(), s.client, p.ID, workflows.Removal{Reason: "asked by phone"}, 10*time.Second)
			require.NoError(t, err)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "removed"}},
		{"migrated", "", cto("migrated@analytical.test"), func(t *testing.T, s *system, p lead.Profile) {
			// A content-only version 2 is published; the lead moves to it
			// wherever it is, and leaves by unsubscribing.
			eventually(t, "the first email", func() bool { return len(s.sink.To(p.Email)) == 1 })
			j, src, err := journeys.LoadShipped("b2b-nurture.yaml")
			require.NoError(t, err)
			src = bytes.Replace(src, []byte("Three numbers from the benchmark worth your coffee"), []byte("Three benchmark numbers worth your coffee"), 1)
			j2, err := journeys.Parse("b2b-nurture.yaml", src)
			require.NoError(t, err)
			require.NoError(t, journeys.ContentOnlyChange(j, j2))
			pub, err := store.PublishJourney(context.Background(), s.db, j2, src)
			require.NoError(t, err)
			steps := map[string]string{}
			for _, loc := range j.Steps() {
				steps[loc.Step.ID] = loc.Step.ID
			}
			_, err = workflows.MigrateLead(context.Background(), s.client, p.ID, workflows.Migration{JourneyID: j.ID, From: s.version, To: pub.Version, Steps: steps}, 10*time.Second)
			require.NoError(t, err)
			st, err := workflows.QueryLead(context.Background(), s.client, p.ID)
			require.NoError(t, err)
			require.Equal(t, pub.Version, st.JourneyVersion)
			s.event(t, p, "u1", lead.Unsubscribe)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "unsubscribe"}},
		{"continued-as-new", "", lead.Profile{Email: "busy@kernel.test", FirstName: "Linus"}, func(t *testing.T, s *system, p lead.Profile) {
			// A burst of engagement while the server suggests a fresh run
			// every 40 events: runs continue as new with signals still
			// arriving, and none is lost.
			var wg sync.WaitGroup
			for i := range 60 {
				wg.Go(func() { s.event(t, p, fmt.Sprintf("open-%d", i), lead.EmailOpen) })
			}
			wg.Wait()
			eventually(t, "every event counted across the runs", func() bool {
				st, err := workflows.QueryLead(context.Background(), s.client, p.ID)
				return err == nil && st.EventsSeen == 60
			})
			s.event(t, p, "u1", lead.Unsubscribe)
		}, workflows.Result{Lifecycle: workflows.LifecycleExited, ExitReason: "unsubscribe"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var dynamic map[string]any
			if c.name == "continued-as-new" {
				dynamic = map[string]any{"limit.historyCount.suggestContinueAsNew": 40}
			}
			s := startSystem(t, "", 86400, func(s *system) { s.dynamic = dynamic })
			if c.name == "paused-resumed" {
				_, err := store.PauseJourney(ctx, s.db, "b2b-nurture", "copy review")
				require.NoError(t, err)
			}
			res, err := s.intake.Enroll(ctx, c.lead, c.journey, "")
			require.NoError(t, err)
			c.play(t, s, res.Profile)
			var got workflows.Result
			require.NoError(t, s.client.GetWorkflow(ctx, workflows.WorkflowID(res.Profile.ID), res.RunID).Get(ctx, &got))
			if c.want.Lifecycle != "" {
				require.EqualValues(t, c.want.Lifecycle, got.Lifecycle)
			}
			if c.want.ExitReason != "" {
				require.EqualValues(t, c.want.ExitReason, got.ExitReason)
			}
			if dynamic != nil {
				first := s.client.GetWorkflowHistory(ctx, workflows.WorkflowID(res.Profile.ID), res.RunID, false, 0)
				var last *historypb.HistoryEvent
				for first.HasNext() {
					last, err = first.Next()
					require.NoError(t, err)
				}
				require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, last.GetEventType(), "the first run continued as new")
			}
			recordRun(t, s, workflows.WorkflowID(res.Profile.ID), res.RunID, c.name)
		})
	}
}
