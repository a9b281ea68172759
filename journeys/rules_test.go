package journeys_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// problems parses src and returns its problems, failing if it is valid.
func problems(t *testing.T, src string) journeys.Problems {
	t.Helper()
	_, err := journeys.Parse("j.yaml", []byte(src))
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "expected problems, got %v", err)
	return ps
}

func requireProblem(t *testing.T, ps journeys.Problems, line, column int, message string) {
	t.Helper()
	for _, p := range ps {
		if strings.Contains(p.Message, message) {
			require.Equal(t, [2]int{line, column}, [2]int{p.Line, p.Column}, "position of %q", p.Message)
			return
		}
	}
	require.Failf(t, "problem not reported", "want %q at %d:%d in\n%v", message, line, column, ps)
}

const head = `id: j
name: J
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 20
content:
  - id: hello
    stage: interest
    subject: Hi
    text: "Hello {{.UnsubscribeURL}}"
`

func TestGraphChecks(t *testing.T) {
	t.Parallel()
	ps := problems(t, head+`stages:
  - id: interest
    steps:
      - id: hello
        send: hello
      - id: again
        goto: hello
      - id: orphan
        wait: 1d
`)
	requireProblem(t, ps, 17, 13, `steps "hello" → "again" form a loop without a wait`)
	requireProblem(t, ps, 21, 13, `step "orphan" is unreachable`)
	require.Len(t, ps, 2)

	// The same loop with a wait in it is fine, and a stage start is a way in.
	_, err := journeys.Parse("j.yaml", []byte(head+`stages:
  - id: interest
    steps:
      - id: hello
        send: hello
      - id: pause
        wait: 1w
      - id: again
        goto: hello
  - id: later
    steps:
      - id: bye
        exit: done
`))
	require.NoError(t, err)
}

func TestRuleChecks(t *testing.T) {
	t.Parallel()
	src := head + `personas: [technical, executive]
time_zone: Mars/Olympus
send_window: {days: [mon, funday], from: "17:00", to: "09:00"}
frequency_cap: {max: 0, per: 1 week}
max_duration: forever
entry:
  - {source: demo form, event: demo_request}
  - {event: demo_requested, stage: evaluation}
reentry: {allowed: true, after: soon}
stages:
  - id: interest
    steps:
      - id: hello
        send: hello
      - id: until
        wait_until: {date: next tuesday}
      - id: call
        task:
          title: "Call {{.Nickname}}"
          assignee: not-an-address
          timeout: 3d
          outcomes: {reached: hello, "No Answer": nowhere}
      - id: branchy
        wait_for:
          events: [email_click]
          timeout: 2d
          on: {demo_request: hello}
`
	src = strings.Replace(src, "    text: \"Hello {{.UnsubscribeURL}}\"\n", "    text: \"Hello {{.UnsubscribeURL}}\"\n    variants:\n      technical: {subject: Hi tech, text: \"{{.UnsubscribeURL}}\"}\n      ceo: {subject: Hi boss, text: \"{{.UnsubscribeURL}}\"}\n", 1)
	ps := problems(t, src)
	require.Len(t, ps, 18, "every mistake, once: %v", ps)
	for _, want := range []struct {
		line, col int
		msg       string
	}{
		{14, 5, `content "hello" has no variant for persona "executive", which the journey targets`},
		{16, 7, `content "hello" has a variant for "ceo", which is not one of the journey's personas (technical, executive)`},
		{18, 12, `time zone "Mars/Olympus" is not an IANA zone name`},
		{19, 27, `day "funday": use mon, tue, wed, thu, fri, sat or sun`},
		{19, 55, `send window ends (09:00) before it starts (17:00)`},
		{20, 22, `frequency cap max must be at least 1 email`},
		{20, 30, `frequency cap per: duration "1 week" has unknown unit " "`},
		{21, 15, `max_duration: duration "forever" does not parse`},
		{23, 5, `entry rule needs either source (where the lead came from) or event (what it did), not both`},
		{24, 13, `unknown event type "demo_requested"`},
		{24, 36, `stage "evaluation" is not one of the journey's stages (interest)`},
		{25, 33, `reentry after: duration "soon" does not parse`},
		{32, 28, `date "next tuesday" does not parse; write 2026-12-01 or 2026-12-01T09:00:00Z`},
		{35, 18, `task title: unknown field .Nickname; templates can use .FirstName`},
		{36, 21, `task assignee "not-an-address" is not an e-mail address`},
		{38, 38, `outcome "No Answer": use lower-case letters, digits, - and _`},
		{38, 51, `outcome No Answer "nowhere" is not a step of this journey`},
		{43, 16, `on "demo_request": the step does not wait for demo_request; add it to events`},
	} {
		requireProblem(t, ps, want.line, want.col, want.msg)
	}
}

func TestUnknownKeysAllAtOnce(t *testing.T) {
	t.Parallel()
	ps := problems(t, strings.NewReplacer("  mql: 10", "  mlq: 10", "    stage: interest", "    stgae: interest", "handoff:", "hand_off:").Replace(head)+`stages:
  - id: interest
    steps:
      - id: hello
        sned: hello
`)
	requireProblem(t, ps, 4, 3, `unknown key "mlq"; did you mean "mql"?`)
	requireProblem(t, ps, 7, 1, `unknown key "hand_off"; did you mean "handoff"?`)
	requireProblem(t, ps, 11, 5, `unknown key "stgae"; did you mean "stage"?`)
	requireProblem(t, ps, 18, 9, `unknown key "sned"; did you mean "send"?`)
}

func TestSendWindow(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	w := &journeys.SendWindow{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04 Mon", s, berlin)
		require.NoError(t, err)
		return v
	}
	for in, want := range map[string]string{
		"2026-11-23 10:30 Mon": "2026-11-23 10:30 Mon", // open: now
		"2026-11-23 07:00 Mon": "2026-11-23 09:00 Mon", // later today
		"2026-11-23 17:00 Mon": "2026-11-24 09:00 Tue", // the end is exclusive
		"2026-11-27 18:00 Fri": "2026-11-30 09:00 Mon", // over the weekend
		"2026-03-28 12:00 Sat": "2026-03-30 09:00 Mon", // across the change to summer time
	} {
		require.Equal(t, at(want), w.NextOpen(at(in)), in)
	}
	var none *journeys.SendWindow
	require.Equal(t, at("2026-11-28 03:00 Sat"), none.NextOpen(at("2026-11-28 03:00 Sat")))
}

func TestScoringModelChecks(t *testing.T) {
	t.Parallel()
	ps := problems(t, `id: j
name: J
scoring:
  mql: 10
  events:
    page_view: {points: 1, axis: interest, cap: {max: 0, per: 1 week}}
    email_open: {points: 2, axis: interest, repeat: {after: 0, points: 0}}
    pricing_page_view:
      points: 15
      axis: intent
      properties:
        - {name: page, equals: /pricing, contains: /plans, points: 5}
  combos:
    - {name: lonely, all: [demo_request], within: 7d, points: 10, axis: urgency}
  fit:
    - {field: employees, range: {min: 100, max: 1000}, points: 10}
    - {field: employees, range: {min: 500}, points: 5}
    - {field: title, equals: CTO, one_of: [CEO], points: 5}
  decay: {half_life: 30d, percent: 20}
  grades:
    fit: [{name: A, at_least: 50}]
handoff:
  min_score: 20
  fit_at_least: 40
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: interest
    steps:
      - {id: hello, send: hello}
`)
	require.Len(t, ps, 11, "%v", ps)
	for _, want := range []struct {
		line, col int
		msg       string
	}{
		{6, 55, "cap max must be at least 1: how many page_view count per period"},
		{6, 63, `cap per: duration "1 week" has unknown unit`},
		{7, 61, "repeat after must be at least 1"},
		{12, 11, "property rule needs either equals or contains"},
		{14, 7, `combo "lonely" needs axis: interest or intent`},
		{14, 27, `combo "lonely" needs at least two event types in all`},
		{17, 33, "range overlaps the employees range of fit rule 1: a lead would score both"},
		{18, 7, "fit rule needs exactly one of equals, one_of, contains or range"},
		{19, 10, "decay is either half_life or every with percent (step-down), not both"},
		{21, 31, "no lead can reach fit grade A (50): the fit rules give at most 20"},
		{24, 17, "no lead can reach fit 40: the fit rules give at most 20"},
	} {
		requireProblem(t, ps, want.line, want.col, want.msg)
	}
}

func TestHandoffConditionsSayWhatIsMissing(t *testing.T) {
	t.Parallel()
	sixty, ten := 60, 10
	h := journeys.HandoffRule{MinScore: 90, BehaviourAtLeast: &sixty, FitAtLeast: &ten, Require: []string{"bant_budget", "bant_authority"}}
	got := h.Conditions(scoring.Score{Fit: 30, Interest: 40, Intent: 42}, lead.Profile{Fields: map[string]string{"bant_budget": "approved"}})
	require.Equal(t, []journeys.RuleCheck{
		{Text: "score 112 ≥ 90", Met: true},
		{Text: "behaviour (interest + intent) 82 ≥ 60", Met: true},
		{Text: "fit 30 ≥ 10", Met: true},
		{Text: "bant_budget is known (approved)", Met: true},
		{Text: "bant_authority is not known"},
	}, got, "above the score, and still not sales ready: authority is unknown")
}
