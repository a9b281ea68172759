package journeys_test

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

func TestShippedJourneysAreValid(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(journeys.Shipped(), "*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, name := range names {
		j, _, err := journeys.LoadShipped(name)
		require.NoError(t, err, name)
		require.NotEmpty(t, j.Steps(), name)
		data, err := fs.ReadFile(journeys.Shipped(), name)
		require.NoError(t, err)
		_, warnings, err := journeys.Check(name, data, journeys.Options{Now: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)})
		require.NoError(t, err, name)
		require.Empty(t, warnings, "the shipped journeys are examples: no warnings either")
	}
}

// Every field a journey file can set has a yaml key: the decoder would
// read an untagged field under its lower-cased Go name, which the shape
// walk reports as an unknown key.
func TestEveryFieldHasAYAMLKey(t *testing.T) {
	t.Parallel()
	seen := map[reflect.Type]bool{}
	var check func(reflect.Type)
	check = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			f := ty.Field(i)
			require.NotEmpty(t, f.Tag.Get("yaml"), "%s.%s has no yaml key", ty.Name(), f.Name)
			check(f.Type)
		}
	}
	check(reflect.TypeOf(journeys.Journey{}))
	require.Greater(t, len(seen), 20, "the walk reached the scoring types too")
}

func TestStepsFlowAcrossStages(t *testing.T) {
	t.Parallel()
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	first, ok := j.FirstStep("")
	require.True(t, ok)
	require.Equal(t, "send-benchmark", first)
	require.Equal(t, "send-case-study", j.After("settle"), "the last step of a stage leads to the next stage")
	eval, _ := j.FirstStep("evaluation")
	require.Equal(t, "send-comparison", eval)
	require.Equal(t, "", j.After("completed"))
	loc, ok := j.Step("send-video")
	require.True(t, ok)
	require.Equal(t, "consideration", loc.Stage)
}

func TestDurations(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"36h": 36 * time.Hour, "3d": 72 * time.Hour, "2w": 14 * 24 * time.Hour, "1w3d": 10 * 24 * time.Hour, "90m": 90 * time.Minute,
	} {
		got, err := journeys.ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "3", "d", "3x", "three days", "0d", "-3d"} {
		_, err := journeys.ParseDuration(bad)
		require.Error(t, err, bad)
	}
}

const valid = `id: tiny
name: Tiny
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 20
stages:
  - id: interest
    steps:
      - id: hello
        send: hello
      - id: pause
        wait: 3d
content:
  - id: hello
    stage: interest
    subject: Hi {{.FirstName}}
    text: "Hello from us. Unsubscribe: {{.UnsubscribeURL}}"
`

func TestValidationErrorsSayWhatAndWhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		replace [2]string
		line    int
		column  int
		message string
	}{
		{"unknown key", [2]string{"        wait: 3d", "        wiat: 3d"}, 15, 9, `unknown key "wiat"; did you mean "wait"?`},
		{"bad duration", [2]string{"wait: 3d", "wait: 3 days"}, 15, 15, `wait: duration "3 days" has unknown unit " "; use w, d, h, m or s`},
		{"unknown content", [2]string{"send: hello", "send: helo"}, 13, 15, `content "helo" is not in the journey's content catalogue`},
		{"unknown event type", [2]string{"email_click: {", "email_clik: {"}, 6, 5, `unknown event type "email_clik"`},
		{"template does not parse", [2]string{"Hi {{.FirstName}}", "Hi {{.FirstName"}, 19, 14, `content "hello" subject: a {{ is not closed; end it with }}`},
		{"template uses an unknown field", [2]string{"Hi {{.FirstName}}", "Hi {{.Nickname}}"}, 19, 19, `content "hello" subject: unknown field .Nickname; templates can use .FirstName, .LastName, .Email, .Company, .Title, .Fields and .UnsubscribeURL`},
		{"unknown stage", [2]string{"    stage: interest", "    stage: intrest"}, 18, 12, `stage "intrest" is not one of the journey's stages (interest)`},
		{"two kinds in a step", [2]string{"        wait: 3d", "        wait: 3d\n        exit: done"}, 14, 11, `step "pause" has 2 kinds (wait, exit)`},
		{"no hand-off score", [2]string{"  min_score: 20", "  min_score: 0"}, 8, 14, `handoff needs min_score above zero`},
		{"bad axis", [2]string{"axis: interest}", "axis: curiosity}"}, 6, 18, `event "email_click" needs axis: interest or intent`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(valid, tt.replace[0], tt.replace[1], 1)
			require.NotEqual(t, valid, src, "the test's replacement must apply")
			_, err := journeys.Parse("tiny.yaml", []byte(src))
			var problems journeys.Problems
			require.True(t, errors.As(err, &problems), "got %v", err)
			require.Len(t, problems, 1, "%v", problems)
			p := problems[0]
			require.Equal(t, "tiny.yaml", p.File)
			require.Contains(t, p.Message, tt.message)
			require.Equal(t, [2]int{tt.line, tt.column}, [2]int{p.Line, p.Column}, "position of %q", p.Message)
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	t.Parallel()
	src := strings.NewReplacer("send: hello", "send: helo", "wait: 3d", "wait: soon", "email_click: {", "email_clik: {").Replace(valid)
	_, err := journeys.Parse("tiny.yaml", []byte(src))
	var problems journeys.Problems
	require.True(t, errors.As(err, &problems))
	require.Len(t, problems, 3)
	require.Less(t, problems[0].Line, problems[1].Line, "in file order")
	require.Contains(t, err.Error(), "tiny.yaml:13:15: content \"helo\"")
}

func TestRender(t *testing.T) {
	t.Parallel()
	c := journeys.Content{ID: "x", Subject: "Hi {{or .FirstName \"there\"}}", HTML: `<a href="{{.UnsubscribeURL}}">{{.Company}}</a>`, Text: "{{index .Fields \"industry\"}}"}
	p := lead.Profile{Email: "a@b.test", Company: "<Acme & Co>", Fields: map[string]string{"industry": "saas"}}
	r, err := c.Render(journeys.DataFor(p, "https://x.test/u/1"))
	require.NoError(t, err)
	require.Equal(t, "Hi there", r.Subject)
	require.Equal(t, "saas", r.Text)
	require.Contains(t, r.HTML, "&lt;Acme &amp; Co&gt;", "HTML escapes lead data")
}

// The shipped journey carries the classic B2B points table.
func TestShippedModelHasTheClassicPointsTable(t *testing.T) {
	t.Parallel()
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	for typ, points := range map[lead.EventType]int{
		lead.PageView: 1, lead.NewsletterSignup: 10, lead.EmailOpen: 2, lead.EmailClick: 3,
		lead.WhitepaperDownload: 15, lead.WebinarSignup: 20, lead.SeminarSignup: 25,
	} {
		require.Equal(t, points, j.Scoring.Events[typ].Points, typ)
		require.Equal(t, scoring.Interest, j.Scoring.Events[typ].Axis, typ)
	}
	require.Greater(t, j.Scoring.Events[lead.DemoRequest].Points, j.Scoring.Events[lead.WebinarSignup].Points, "intent weighs more than interest")
}
