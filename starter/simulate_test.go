package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/simulate"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/timeline"
	"github.com/nurture-dev/nurture/workflows"
)

// TestSimulationAndARealRunAgree runs one script twice: simulated, and for
// real on the embedded server with the real activities (PostgreSQL, the
// SMTP sink) at a day a second; the emails, score changes, stages,
// hand-off and lifecycle must come out the same. (The journey is the
// shipped one without its decay: decay counts calendar days, and a real
// run's events land a little later in journey time than scripted, which
// may cross a midnight the simulation does not.)
func TestSimulationAndARealRunAgree(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const script = `
12h email_click         # the webinar invitation goes at once
1d webinar_signup       # during the two-day settle wait
1d12h contact_form      # MQL
2d6h demo_request       # handed off, mid-wait
3d verdict accepted meeting booked
`
	_, src, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	const decay = "  decay: {half_life: 45d}\n"
	require.Contains(t, string(src), decay)
	src = []byte(strings.Replace(string(src), decay, "", 1))
	j, err := journeys.Parse("b2b-nurture.yaml", src)
	require.NoError(t, err)
	actions, err := simulate.ParseScript("script", script)
	require.NoError(t, err)
	ada := lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Company: "Analytical Engines", Title: "CTO"}

	// For real: a day a second.
	const scale = 86400
	s := startSystem(t, "", scale)
	_, err = store.PublishJourney(ctx, s.db, j, src)
	require.NoError(t, err)
	began := time.Now()
	p, err := s.enroll(ctx, ada)
	require.NoError(t, err)
	for i, a := range actions {
		time.Sleep(time.Until(began.Add(a.After / scale)))
		switch a.Kind {
		case simulate.ActEvent:
			_, err := s.intake.Record(ctx, lead.Event{ID: "real-" + string(rune('a'+i)), LeadID: p.ID, Type: a.Event, OccurredAt: time.Now().UTC()})
			require.NoError(t, err)
		case simulate.ActVerdict:
			_, err := workflows.SendVerdict(ctx, s.client, p.ID, workflows.SalesFeedback{Verdict: workflows.Verdict(a.Verdict), Reason: a.Note})
			require.NoError(t, err)
		}
	}
	var res workflows.Result
	require.NoError(t, s.client.GetWorkflow(ctx, workflows.WorkflowID(p.ID), "").Get(ctx, &res))
	snaps, _, err := store.SnapshotsSince(ctx, s.db, 0, []string{p.ID})
	require.NoError(t, err)
	var real []string
	for _, sn := range snaps {
		if what, text := timeline.Progress(sn); what != "" {
			real = append(real, what+" "+text)
		}
	}
	sends, err := store.ListSends(ctx, s.db, p.ID, 100)
	require.NoError(t, err)
	var realSent []string
	for _, sd := range sends {
		if sd.To == p.Email { // not the notice to sales
			realSent = append(realSent, sd.ContentID)
		}
	}

	// Simulated, from the same moment.
	sim, err := simulate.Run(simulate.Options{Journey: j, Lead: ada, Script: actions, Start: began})
	require.NoError(t, err)
	var simulated []string
	for _, l := range sim.Lines {
		switch l.What {
		case timeline.Score, timeline.Stage, timeline.Handoff, timeline.Lifecycle, timeline.Exit:
			simulated = append(simulated, l.What+" "+l.Text)
		}
	}
	require.Equal(t, simulated, real, "progress, simulated and real")
	require.Equal(t, sim.Outcome.Sent, realSent, "emails, simulated and real")
	require.EqualValues(t, sim.Outcome.Lifecycle, res.Lifecycle)
	require.EqualValues(t, "sql", res.Lifecycle)
}

// runCLI runs a starter command without a system behind it.
func runCLI(args ...string) (string, error) {
	var out strings.Builder
	e := &environment{getenv: func(string) string { return "" }, stdout: &out, stderr: &out}
	err := dispatch(context.Background(), e, args)
	return out.String(), err
}

func TestSimulateCommand(t *testing.T) {
	t.Parallel()
	// A shipped case: its expectations hold, and the timeline says so.
	out, err := runCLI("simulate", "../journeys/b2b-nurture.yaml", "-case", "../journeys/simulations/recycled.yaml")
	require.NoError(t, err, out)
	for _, want := range []string{
		"simulated b2b-nurture (../journeys/b2b-nurture.yaml) for margaret@apollo.test, from Mon 5 Jan 2026 09:00 (UTC)",
		`  0.0  Mon 05 Jan 09:00  send-comparison      MAIL      "Apollo evaluating options? Our honest comparison" [product-comparison]`,
		"HANDOFF   to sales at score 100",
		"SALES     verdict recycle (no budget until next quarter)",
		`TASK      "Check in with Margaret at Apollo: has the timing changed?" for sales`,
		"EXIT      recycled_out",
		"outcome: MQL at day 0.0, handed off at day 0.1, exited (recycled_out) at day 22.0; score 0; 4 emails; cost 30.08",
		"  ok    exit=recycled_out",
	} {
		require.Contains(t, out, want)
	}

	// Flags describe the lead and the script; an unmet expectation fails
	// the command and says what was found.
	out, err = runCLI("simulate", "../journeys/b2b-nurture.yaml", "-email", "grace@cobol.test", "-first-name", "Grace",
		"-at", "1d 10:30 whitepaper_download", "-expect", "no-handoff", "-expect", "handoff-by=30d", "-start", "2026-11-23T09:00:00Z")
	require.EqualError(t, err, "1 of 2 expectations not met")
	require.Contains(t, out, "  1.1  Tue 24 Nov 10:30  ")
	require.Contains(t, out, "  FAIL  handoff-by=30d           handed off never")

	// Mistakes are said with where they are.
	_, err = runCLI("simulate", "../journeys/b2b-nurture.yaml", "-at", "3d whitepaper_downlaod")
	require.ErrorContains(t, err, `-at:1: "whitepaper_downlaod" is not an event type, verdict or task`)
	_, err = runCLI("simulate", "../journeys/b2b-nurture.yaml", "-expect", "handoff-before=3d")
	require.ErrorContains(t, err, `expectation "handoff-before=3d": unknown; use one of handoff-by, no-handoff`)
	_, err = runCLI("simulate", "../journeys/b2b-nurture.yaml", "-at", "2d12h 14:00 page_view")
	require.ErrorContains(t, err, "2d12h 14:00: with a time of day, write whole days (like 10d 14:00)")
	_, err = runCLI("simulate", "../journeys/simulations/recycled.yaml")
	require.Error(t, err, "a case is not a journey")
}

func TestForecastCommand(t *testing.T) {
	t.Parallel()
	args := []string{"simulate", "../journeys/b2b-nurture.yaml", "-cohort", "60", "-model", "../journeys/models/b2b-engagement.yaml", "-seed", "3"}
	out, err := runCLI(args...)
	require.NoError(t, err, out)
	for _, want := range []string{"forecast for 60 leads", "reached interest            60  100.0%", "how leads ended (reason, stage)",
		"to MQL", "per hand-off", "per accepted lead", "leads simulated in"} {
		require.Contains(t, out, want)
	}
	again, err := runCLI(args...)
	require.NoError(t, err)
	cut := func(s string) string { return s[:strings.Index(s, "\n(60 leads simulated")] }
	require.Equal(t, cut(out), cut(again), "seeded: the same forecast")

	_, err = runCLI("simulate", "../journeys/b2b-nurture.yaml", "-cohort", "10")
	require.EqualError(t, err, "a forecast needs both -cohort N (how many leads) and -model FILE (how they behave)")
}
