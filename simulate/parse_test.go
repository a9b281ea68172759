package simulate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/simulate"
)

func TestScriptMistakesSayWhereAndWhat(t *testing.T) {
	t.Parallel()
	_, err := simulate.ParseScript("s.txt", strings.Join([]string{
		"# a comment",
		"3d whitepaper_downlaod",
		"",
		"yesterday page_view",
		"2d 25:00 page_view",
		"1d verdict maybe",
		"1d task",
		"1d page_view page",
		"1d",
		"1d 09:00",
		"3d page_view page=/x # a comment after",
	}, "\n"))
	for _, want := range []string{
		`s.txt:2: "whitepaper_downlaod" is not an event type, verdict or task`,
		`s.txt:4: duration "yesterday" does not parse`,
		`s.txt:5: time of day "25:00": write HH:MM`,
		`s.txt:6: verdict "maybe": use accepted, rejected or recycle`,
		`s.txt:7: task: say its outcome`,
		`s.txt:8: "page": write an event's properties as key=value`,
		`s.txt:9: "1d": write a journey time and what happens`,
		`s.txt:10: say what happens after the time of day`,
	} {
		require.ErrorContains(t, err, want)
	}
	require.NotContains(t, err.Error(), "s.txt:11", "a comment after a line is a comment")

	_, err = simulate.ParseScript("big", strings.Repeat("1d page_view\n", simulate.MaxScriptBytes/13+1))
	require.ErrorContains(t, err, "a script is at most 65536")
	_, err = simulate.ParseScript("long", "9999w page_view")
	require.ErrorContains(t, err, "later than a simulation runs")
	_, err = simulate.ParseScript("bin", "1d page_view \xff")
	require.ErrorContains(t, err, "is not UTF-8 text")
}

func TestScriptTimes(t *testing.T) {
	t.Parallel()
	acts, err := simulate.ParseScript("s", "0 page_view\n1w2d12h page_view\n10d 14:00 pricing_page_view page=/pricing\n12d verdict recycle next quarter please\n20d task reached call back\n")
	require.NoError(t, err)
	require.Equal(t, time.Duration(0), acts[0].After)
	require.Equal(t, (9*24+12)*time.Hour, acts[1].After)
	require.Equal(t, 14*60, acts[2].Clock)
	require.Equal(t, map[string]string{"page": "/pricing"}, acts[2].Properties)
	require.EqualValues(t, "recycle", acts[3].Verdict)
	require.Equal(t, "next quarter please", acts[3].Note)
	require.Equal(t, "reached", acts[4].Outcome)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	// 10 days after Monday 23 November 09:00 UTC, at 14:00 in Berlin.
	require.Equal(t, time.Date(2026, 12, 3, 14, 0, 0, 0, berlin), acts[2].At(start, berlin))
}

func TestCaseMistakes(t *testing.T) {
	t.Parallel()
	_, err := simulate.ParseCase("c.yaml", []byte("lead:\n  email: a@b.test\n  colour: red\n"))
	require.ErrorContains(t, err, "c.yaml: [3:3] unknown field \"colour\"")
	_, err = simulate.ParseCase("c.yaml", []byte("lead: &l\n  email: a@b.test\nother: *l\n"))
	require.ErrorContains(t, err, "c.yaml:1:7: anchors and aliases")
	_, err = simulate.ParseCase("c.yaml", []byte("lead: {email: not-an-address}\n"))
	require.ErrorContains(t, err, `c.yaml: lead: lead e-mail "not-an-address" is not a valid address`)
	_, err = simulate.ParseCase("c.yaml", []byte("lead: {email: a@b.test}\nstart: monday\nscript: [3d nothing]\nexpect: [handoff-by=soon]\n"))
	require.ErrorContains(t, err, `c.yaml: start: "monday": write a date`)
	require.ErrorContains(t, err, `c.yaml: script:1: "nothing" is not an event type`)
	require.ErrorContains(t, err, `c.yaml: expect[0]: expectation "handoff-by=soon": duration "soon" does not parse`)
	_, err = simulate.ParseCase("c.yaml", []byte(strings.Repeat("#", simulate.MaxCaseBytes+1)))
	require.ErrorContains(t, err, "a simulation case is at most 65536")
}

// FuzzScript: any script is read or refused with words, never a panic;
// what is read is within the limits.
func FuzzScript(f *testing.F) {
	f.Add("3d whitepaper_download\n10d 14:00 pricing_page_view page=/pricing\n12d verdict accepted ok\n20d task reached\n")
	f.Add("0 page_view # c\n\n1w2d3h4m5s email_open a=b c=d")
	f.Add("99999999999999999999d page_view")
	f.Add("1d 9:5 page_view")
	f.Fuzz(func(t *testing.T, src string) {
		acts, err := simulate.ParseScript("fuzz", src)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		for _, a := range acts {
			if a.After < 0 || a.After > simulate.MaxJourneyTime || a.Clock > 24*60 {
				t.Fatalf("out of range: %+v", a)
			}
		}
	})
}

// FuzzCase: any case file is read or refused with words, never a panic.
func FuzzCase(f *testing.F) {
	f.Add([]byte("journey: b2b-nurture\nlead: {email: a@b.test, persona: executive}\nscript: [1d page_view]\nexpect: [no-handoff]\n"))
	f.Add([]byte("lead: &a {email: a@b.test}\nx: *a\n"))
	f.Add([]byte("lead: [1, 2]\n"))
	f.Add([]byte("!!binary x"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := simulate.ParseCase("fuzz", src)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.LessOrEqual(t, len(c.Actions), simulate.MaxScriptLines)
	})
}
