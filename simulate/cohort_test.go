package simulate_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/simulate"
)

func shippedModel(t *testing.T) *simulate.Model {
	t.Helper()
	data, err := os.ReadFile("../journeys/models/b2b-engagement.yaml")
	require.NoError(t, err)
	m, err := simulate.ParseModel("b2b-engagement.yaml", data)
	require.NoError(t, err)
	return m
}

func TestCohortIsSeededAndAddsUp(t *testing.T) {
	t.Parallel()
	js := shipped(t)
	opts := simulate.CohortOptions{Journey: js["b2b-nurture"], Others: []*journeys.Journey{js["recycle-nurture"]}, Model: shippedModel(t),
		Leads: 120, Seed: 7, Start: start, Workers: 2}
	a, err := simulate.Cohort(opts)
	require.NoError(t, err)
	opts.Workers = 1
	b, err := simulate.Cohort(opts)
	require.NoError(t, err)
	require.Equal(t, a, b, "the same seed gives the same forecast, however many workers")
	opts.Seed = 8
	c, err := simulate.Cohort(opts)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "another seed, another cohort")

	require.Equal(t, 120, a.Leads)
	require.Equal(t, 120, a.Entered["interest"], "every lead starts at interest")
	require.LessOrEqual(t, a.Entered["evaluation"], a.Entered["interest"])
	ended := a.Running
	for _, n := range a.Exits {
		ended += n
	}
	require.Equal(t, 120, ended, "every lead ended somewhere, or is still running")
	verdicts := 0
	for _, n := range a.Verdicts {
		verdicts += n
	}
	require.LessOrEqual(t, verdicts, a.Handoff)
	require.Positive(t, a.Emails)
	require.InDelta(t, 0.02*float64(a.Emails), a.Cost, 30*float64(a.Handoff)+0.001, "emails cost 0.02 each; calls 30")
}

func TestForecastFollowsTheModel(t *testing.T) {
	t.Parallel()
	js := shipped(t)
	// Nobody engages: every lead gets the benchmark and its reminder and
	// leaves at interest; nobody is handed off.
	quiet, err := simulate.ParseModel("quiet.yaml", []byte("profiles: [{weight: 1, title: [CTO]}]\nhorizon: 4w\n"))
	require.NoError(t, err)
	f, err := simulate.Cohort(simulate.CohortOptions{Journey: js["b2b-nurture"], Model: quiet, Leads: 20, Seed: 1, Start: start})
	require.NoError(t, err)
	require.Equal(t, map[simulate.ExitAt]int{{Reason: "no_engagement", Stage: "interest"}: 20}, f.Exits)
	require.Equal(t, 40, f.Emails)
	require.Zero(t, f.Handoff)
	require.InDelta(t, 0.8, f.Cost, 1e-9)

	// Everybody asks for a demo every week and sales accepts all: all
	// handed off and accepted.
	eager, err := simulate.ParseModel("eager.yaml", []byte(`
profiles: [{weight: 1, title: [CTO]}]
weekly: {demo_request: 1, contact_form: 1, pricing_page_view: 1, webinar_signup: 1}
sales: {accepted: 1}
horizon: 8w
`))
	require.NoError(t, err)
	f, err = simulate.Cohort(simulate.CohortOptions{Journey: js["b2b-nurture"], Others: []*journeys.Journey{js["recycle-nurture"]}, Model: eager, Leads: 10, Seed: 1, Start: start})
	require.NoError(t, err)
	require.Equal(t, 10, f.Handoff)
	require.EqualValues(t, 10, f.Verdicts["accepted"])
	require.Equal(t, 10, f.Accepted)
	var out strings.Builder
	simulate.WriteForecast(&out, f)
	require.Contains(t, out.String(), "handed off                  10  100.0%")
}

func TestModelMistakes(t *testing.T) {
	t.Parallel()
	_, err := simulate.ParseModel("m.yaml", []byte(`
profiles: []
emails: {default: {email_opne: 0.3, email_click: 1.5}}
sales: {accepted: 0.7, rejected: 0.6}
weekly: {page_view: -1}
horizon: forever
`))
	for _, want := range []string{
		"m.yaml: profiles: describe at least one kind of lead",
		`m.yaml: emails.default: "email_opne" is not an event type`,
		"m.yaml: emails.default.email_click: chance 1.5; write a number from 0 to 1",
		"m.yaml: sales: the chances add up to 1.30; at most 1",
		"m.yaml: weekly.page_view: chance -1",
		`m.yaml: horizon: duration "forever" does not parse`,
	} {
		require.ErrorContains(t, err, want)
	}
	_, err = simulate.ParseModel("m.yaml", []byte("profiles: [{weight: 1}]\nsales: {maybe: 0.5}\n"))
	require.ErrorContains(t, err, `verdict "maybe": use accepted, rejected or recycle`)
	_, err = simulate.ParseModel("m.yaml", []byte("profiles: [{weight: 1, colour: red}]\n"))
	require.ErrorContains(t, err, `unknown field "colour"`)
	_, err = simulate.Cohort(simulate.CohortOptions{Leads: simulate.MaxCohort + 1})
	require.ErrorContains(t, err, "a cohort is 1 to 100000 leads")
}

// FuzzModel: any model file is read or refused with words, never a panic.
func FuzzModel(f *testing.F) {
	data, err := os.ReadFile("../journeys/models/b2b-engagement.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("profiles: [{weight: 1}]\nweekly: {page_view: 0.5}\n"))
	f.Add([]byte("profiles: &p [{weight: 1}]\nx: *p\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := simulate.ParseModel("fuzz", src)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotNil(t, m)
	})
}

func readModel() ([]byte, error) { return os.ReadFile("../journeys/models/b2b-engagement.yaml") }
