package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

func TestEditingAPublishedJourneyLeavesRunningLeadsOnTheirVersion(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1) // real time: leads sit in their 3-day wait
	require.Equal(t, 1, s.version)

	early, err := s.enroll(ctx, lead.Profile{Email: "early@acme.test", FirstName: "Early"})
	require.NoError(t, err)
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(s.sink.To("early@acme.test")) == 1 })
	require.NoError(t, err)

	// A marketer rewrites the webinar invitation and adds a step.
	_, src, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	edited := strings.Replace(string(src), `subject: "Webinar: what the best`, `subject: "New date! Webinar: what the best`, 1)
	edited = strings.Replace(edited, "      - id: settle\n        wait: 2d\n", "      - id: settle\n        wait: 3d\n      - id: nudge\n        adjust_score: 1\n", 1)
	require.NotEqual(t, string(src), edited)
	j2, err := journeys.Parse("b2b-nurture.yaml", []byte(edited))
	require.NoError(t, err)
	pub, err := store.PublishJourney(ctx, s.db, j2, []byte(edited))
	require.NoError(t, err)
	require.Equal(t, 2, pub.Version)

	late, err := s.enroll(ctx, lead.Profile{Email: "late@acme.test", FirstName: "Late"})
	require.NoError(t, err)
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(s.sink.To("late@acme.test")) == 1 })
	require.NoError(t, err)

	// Both click: each gets the invitation of the version it runs.
	s.event(t, early, "early-click", lead.EmailClick)
	s.event(t, late, "late-click", lead.EmailClick)
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool {
		return len(s.sink.To("early@acme.test")) == 2 && len(s.sink.To("late@acme.test")) == 2
	})
	require.NoError(t, err)
	require.Equal(t, "Webinar: what the best revenue teams do differently", s.sink.To("early@acme.test")[1].Subject)
	require.Equal(t, "New date! Webinar: what the best revenue teams do differently", s.sink.To("late@acme.test")[1].Subject)

	for email, version := range map[string]int{"early@acme.test": 1, "late@acme.test": 2} {
		var st workflows.Status
		// The mail reaches the sink a moment before the send activity
		// completes and the lead moves on.
		eventually(t, email+" settles", func() bool {
			st, err = workflows.QueryLead(ctx, s.client, lead.IDForEmail(email))
			return err == nil && st.Step == "settle"
		})
		require.Equal(t, version, st.JourneyVersion, email)
		row, err := store.GetLead(ctx, s.db, lead.IDForEmail(email))
		require.NoError(t, err)
		require.Equal(t, version, row.JourneyVersion, email)
	}
	list, err := store.ListJourneys(ctx, s.db)
	require.NoError(t, err)
	running := map[int]int{}
	for _, v := range list {
		if v.JourneyID == "b2b-nurture" {
			running[v.Version] = v.Running
		}
	}
	require.Equal(t, map[int]int{1: 1, 2: 1}, running, "starter journeys counts the leads on each version")
}
