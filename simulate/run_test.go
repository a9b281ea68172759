package simulate_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/simulate"
)

// start is a Monday morning: no simulation test depends on when it runs.
var start = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func shipped(t *testing.T) map[string]*journeys.Journey {
	t.Helper()
	out := map[string]*journeys.Journey{}
	for _, name := range []string{"b2b-nurture.yaml", "recycle-nurture.yaml"} {
		j, _, err := journeys.LoadShipped(name)
		require.NoError(t, err)
		out[j.ID] = j
	}
	return out
}

func run(t *testing.T, script string, p lead.Profile, stage string) simulate.Result {
	t.Helper()
	js := shipped(t)
	actions, err := simulate.ParseScript("script", script)
	require.NoError(t, err)
	res, err := simulate.Run(simulate.Options{Journey: js["b2b-nurture"], Others: []*journeys.Journey{js["recycle-nurture"]},
		Lead: p, StartStage: stage, Script: actions, Start: start})
	require.NoError(t, err)
	return res
}

func lines(r simulate.Result, what string) []string {
	var out []string
	for _, l := range r.Lines {
		if l.What == what {
			out = append(out, l.Text)
		}
	}
	return out
}

// TestShippedJourneysMeetTheirExpectations runs every case kept beside the
// shipped journeys (journeys/simulations) and checks what each expects.
func TestShippedJourneysMeetTheirExpectations(t *testing.T) {
	t.Parallel()
	js := shipped(t)
	files, err := filepath.Glob("../journeys/simulations/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			c, err := simulate.ParseCase(f, data)
			require.NoError(t, err)
			require.NotEmpty(t, c.Expectations, "a case expects something")
			j := js[c.Journey]
			require.NotNil(t, j, "case for journey %q", c.Journey)
			var others []*journeys.Journey
			for id, o := range js {
				if id != j.ID {
					others = append(others, o)
				}
			}
			res, err := simulate.Run(simulate.Options{Journey: j, Others: others, Lead: c.Lead.Profile(), StartStage: c.Stage, Script: c.Actions, Start: start})
			require.NoError(t, err)
			var out bytes.Buffer
			failed := simulate.WriteChecks(&out, res, c.Expectations)
			simulate.WriteTimeline(&out, res)
			require.Zero(t, failed, out.String())
		})
	}
}

func TestTimelineShowsWhatHappenedAndWhy(t *testing.T) {
	t.Parallel()
	ada := lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Company: "Analytical Engines", Title: "CTO", TimeZone: "Europe/Berlin"}
	res := run(t, `
12h email_click
1d verdict accepted too early
1d1h webinar_signup
1d2h contact_form   # 53: MQL
1d3h demo_request   # 93: handed off during the settle wait
2d verdict accepted meeting booked
3d verdict rejected changed our minds
`, ada, "")
	require.Equal(t, []string{`"Ada, the 2026 B2B pipeline benchmark is here" [benchmark-report]`, `"Webinar: what the best CTO teams do differently" [webinar-invite]`}, lines(res, "MAIL"),
		"subjects rendered with the lead's data; nothing after the hand-off")
	scores := lines(res, "SCORE")
	require.Contains(t, scores[len(scores)-1], "after demo_request")
	require.Contains(t, strings.Join(scores, "\n"), "after contact_form; became MQL")
	require.Len(t, lines(res, "HANDOFF"), 1)
	require.Contains(t, lines(res, "HANDOFF")[0], "reached the hand-off score 90")
	sales := lines(res, "SALES")
	require.Equal(t, "verdict accepted (too early)", sales[0])
	require.Contains(t, sales[1], "not taken: lead ada@analytical.test has no open hand-off", "the journey's refusal is shown")
	require.Equal(t, "verdict accepted (meeting booked)", sales[2])
	require.Equal(t, "verdict rejected: not delivered, the journey had ended", sales[3], "nothing reaches an ended journey")
	require.EqualValues(t, "sql", res.Outcome.Lifecycle)
	require.Equal(t, 27*time.Hour, *res.Outcome.HandoffAt)
	// Local time is the lead's: 09:00 UTC is 10:00 in Berlin.
	require.Equal(t, "10:00", res.Lines[0].Local.Format("15:04"))
	require.Equal(t, "Europe/Berlin", res.Lines[0].Local.Location().String())
}

func TestUnsubscribeSuppressesAtOnce(t *testing.T) {
	t.Parallel()
	// The unsubscribe comes as the reminder is due: suppressed at once (as
	// the receiver does), so the reminder is not sent even if the journey
	// has not taken the event yet.
	res := run(t, "3d unsubscribe\n", lead.Profile{Email: "linus@kernel.test"}, "")
	require.EqualValues(t, "suppressed: unsubscribe", res.Outcome.ExitReason, "the send found the address suppressed")
	require.Equal(t, []string{"benchmark-report"}, res.Outcome.Sent)
}

func TestHorizonStopsAJourneyThatWaits(t *testing.T) {
	t.Parallel()
	js := shipped(t)
	actions, err := simulate.ParseScript("script", "1h demo_request\n2h contact_form\n3h pricing_page_view\n")
	require.NoError(t, err)
	res, err := simulate.Run(simulate.Options{Journey: js["b2b-nurture"], Lead: lead.Profile{Email: "x@y.test"}, StartStage: "evaluation",
		Script: actions, Start: start, Horizon: 30 * 24 * time.Hour})
	require.NoError(t, err)
	require.True(t, res.Outcome.Running, "no verdict came: still handed off")
	require.EqualValues(t, "handed_off", res.Outcome.Lifecycle)
	require.Contains(t, res.Lines[len(res.Lines)-1].Text, "still running after 30d")
}

func TestClockTimesAreTheLeadsLocalTime(t *testing.T) {
	t.Parallel()
	res := run(t, "2d 14:30 page_view\n", lead.Profile{Email: "x@y.test", TimeZone: "America/New_York"}, "")
	for _, l := range res.Lines {
		if l.What == "EVENT" {
			require.Equal(t, "Wed 14:30", l.Local.Format("Mon 15:04"), "two days after Monday, at 14:30 in New York")
			return
		}
	}
	t.Fatal("no event line")
}
