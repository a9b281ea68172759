package scoring_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// The classic B2B points table.
var classic = scoring.Model{MQL: 40, Events: map[lead.EventType]scoring.EventRule{
	lead.PageView:           {Points: 1, Axis: scoring.Interest},
	lead.NewsletterSignup:   {Points: 10, Axis: scoring.Interest},
	lead.EmailOpen:          {Points: 2, Axis: scoring.Interest},
	lead.EmailClick:         {Points: 3, Axis: scoring.Interest},
	lead.WhitepaperDownload: {Points: 15, Axis: scoring.Interest},
	lead.WebinarSignup:      {Points: 20, Axis: scoring.Interest},
	lead.SeminarSignup:      {Points: 25, Axis: scoring.Interest},
	lead.DemoRequest:        {Points: 40, Axis: scoring.Intent},
}}

func ev(id string, t lead.EventType) lead.Event {
	return lead.Event{ID: id, Type: t, OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestPointsTable(t *testing.T) {
	t.Parallel()
	var s scoring.Score
	for i, typ := range []lead.EventType{lead.PageView, lead.PageView, lead.NewsletterSignup, lead.EmailOpen, lead.EmailClick,
		lead.WhitepaperDownload, lead.WebinarSignup, lead.SeminarSignup, lead.DemoRequest, lead.Unsubscribe} {
		classic.Apply(&s, ev(string(rune('a'+i)), typ))
	}
	require.Equal(t, 1+1+10+2+3+15+20+25, s.Interest)
	require.Equal(t, 40, s.Intent)
	require.Equal(t, 117, s.Total())
	require.Contains(t, s.Breakdown, scoring.Line{Rule: "event:page_view", Axis: scoring.Interest, Count: 2, Points: 2})
	require.Len(t, s.Breakdown, 8, "unscored events leave no line")
	for i := 1; i < len(s.Breakdown); i++ {
		require.Less(t, s.Breakdown[i-1].Rule, s.Breakdown[i].Rule, "breakdown is sorted")
	}
}

func TestOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	types := []lead.EventType{lead.EmailOpen, lead.DemoRequest, lead.PageView, lead.EmailOpen}
	var a, b scoring.Score
	for i := range types {
		classic.Apply(&a, ev("", types[i]))
		classic.Apply(&b, ev("", types[len(types)-1-i]))
	}
	require.Equal(t, a, b)
}

func TestAdjustAndReset(t *testing.T) {
	t.Parallel()
	var s scoring.Score
	classic.Apply(&s, ev("x", lead.WebinarSignup))
	s.Adjust("step:call-went-well", 15)
	require.Equal(t, 35, s.Total())
	require.Equal(t, scoring.Score{}, s.Reset())
}
