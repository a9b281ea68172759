package journeys_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
)

// goWords are the decoder's and the template engine's own words, which
// must never reach a marketer.
var goWords = []string{"cannot unmarshal", "Go struct", "Go value", "interface {}", "journeys.", "map[string]", "can't evaluate", "executing", "stateURL", "[]string"}

func requireMarketersWords(t *testing.T, ps journeys.Problems) {
	t.Helper()
	for _, p := range ps {
		for _, w := range goWords {
			require.NotContains(t, p.Message, w, "Go's words in %q", p.Message)
		}
	}
}

func TestEveryTypeMistakeAtOnce(t *testing.T) {
	t.Parallel()
	src := `id: types
name: Types
on_content_error: skip
scoring:
  mql: ten
  events:
    email_click: {points: 2.5, axis: [interest]}
    demo_request: {points: "40", axis: intent}
  fit:
    - {field: employees, range: {min: many}, points: 5}
handoff:
  min_score: 1e2
  require: bant_budget
reentry: {allowed: "true"}
frequency_cap: {max: 99999999999999999999, per: 1w}
stages:
  - id: interest
    steps:
      - id: hello
        send: [hello]
      - id: pause
        wait_for:
          events: {email_click: yes}
          timeout: 3d
      - id: bump
        adjust_score: .inf
      - id: bye
        exit: done
content:
  - id: hello
    stage: interest
    cost: 0.5.1
    subject: Hi
    text: "Hello {{.UnsubscribeURL}}"
`
	_, err := journeys.Parse("types.yaml", []byte(src))
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	requireMarketersWords(t, ps)
	for _, want := range []struct {
		line, col int
		msg       string
	}{
		{5, 8, `mql: expected a whole number, got "ten"`},
		{7, 27, `points: expected a whole number, got 2.5`},
		{7, 38, `axis: expected interest or intent, got a list`},
		{10, 39, `min: expected a number, got "many"`},
		{13, 12, `require: expected a list, got "bant_budget"; write [a, b] for a list, or one item per line starting with "- "`},
		{14, 20, `allowed: expected true or false, got "true"`},
		{15, 22, `max: 99999999999999999999 is too large for a whole number here`},
		{20, 15, `send: expected a single value, got a list`},
		{23, 19, `events: expected a list, got key: value lines`},
		{26, 23, `adjust_score: expected a whole number, got .inf`},
		{32, 11, `cost: expected a number, got "0.5.1"`},
	} {
		requireProblem(t, ps, want.line, want.col, want.msg)
	}
	require.Len(t, ps, 11, "each mistake once, and no consequence of one (step does nothing, needs min_score): %v", ps)
}

func TestAliasesAndMergeKeys(t *testing.T) {
	t.Parallel()
	src := strings.Replace(valid, "    email_click: {points: 5, axis: interest}", `    email_click: &interest {points: 5, axis: interest}
    email_open: *interest
    page_view:
      <<: *interest
      points: 1`, 1)
	j, err := journeys.Parse("alias.yaml", []byte(src))
	require.NoError(t, err)
	require.Equal(t, 5, j.Scoring.Events["email_open"].Points)
	require.Equal(t, 1, j.Scoring.Events["page_view"].Points, "a key beside a merge wins")
	require.Equal(t, "interest", string(j.Scoring.Events["page_view"].Axis))

	_, err = journeys.Parse("alias.yaml", []byte(strings.Replace(valid, "min_score: 20", "min_score: *nowhere", 1)))
	require.ErrorContains(t, err, "alias.yaml:8:14: the alias *nowhere refers to no anchor &nowhere above it")

	// An alias inside the value its anchor names would be a loop.
	_, err = journeys.Parse("alias.yaml", []byte(valid+"exit_on: &loop [unsubscribe, *loop]\n"))
	require.ErrorContains(t, err, "alias.yaml:21:30: the alias *loop refers to no anchor &loop above it")
}

func TestTemplatesAreTriedWithAdversarialLeads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, field, template string
		want                  string
	}{
		{"a slice past a short name", "subject", `{{slice .FirstName 0 3}}, hello`,
			`content "hello" subject: fails for a lead whose first name is "A" (one letter): {{slice .FirstName 0 3}} goes past the end of the text`},
		{"a slice that cuts a letter", "subject", `{{if ge (len .FirstName) 3}}{{slice .FirstName 0 3}}{{end}}`,
			`content "hello" subject cuts a character in half for a lead whose first name is "Zoë"`},
		{"an index past a short company", "subject", `{{index .Company 1}}`,
			`content "hello" subject: fails for a lead whose company is "C" (one letter): {{index .Company 1}} goes past the end of the text`},
		{"an unknown field", "subject", `Hi {{.Firstname}}`,
			`content "hello" subject: unknown field .Firstname; did you mean .FirstName? templates can use .FirstName, .LastName, .Email, .Company, .Title, .Fields and .UnsubscribeURL`},
		{"a field of a field", "subject", `Hi {{.Company.Name}}`,
			`content "hello" subject: {{.Company.Name}}: .Name is not there`},
		{"an unknown function", "subject", `{{upper .FirstName}}`,
			`content "hello" subject: unknown function "upper"`},
		{"a missing end", "subject", `{{if .Company}}Hi`,
			`content "hello" subject: the template ends inside an {{if}}, {{range}} or {{with}}; add its {{end}}`},
		{"a comparison of text and a number", "subject", `{{if eq .Company 1}}x{{end}}`,
			`content "hello" subject: {{eq .Company 1}} compares text with a number`},
		{"a link only for some", "text", `{{with .Company}}{{$.UnsubscribeURL}}{{end}}`,
			`content "hello" text has no unsubscribe link for a lead whose company is empty: keep {{.UnsubscribeURL}} outside any {{if}} or {{with}}`},
		{"no link in html", "html", `<p>Hi</p>`,
			`content "hello" html has no unsubscribe link: add <a href="{{.UnsubscribeURL}}">Unsubscribe</a>`},
		{"an open attribute", "html", `<a href="{{.UnsubscribeURL}}>x</a>`,
			`content "hello" html: the HTML ends inside a tag or an attribute: a < or a quote is not closed`},
		{"a range over a number", "text", `{{range 1000000000}}x{{end}}{{.UnsubscribeURL}}`,
			`content "hello" text: {{range}} can only go over .Fields`},
		{"a recursive template", "text", `{{define "x"}}{{template "x"}}{{end}}{{template "x"}}{{.UnsubscribeURL}}`,
			`content "hello" text: {{define}} and {{block}} are not available in journey content`},
		{"a huge printf", "text", `{{printf "%0999999d" 1}}{{.UnsubscribeURL}}`,
			`content "hello" text: printf width or precision above 100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			old := `    text: "Hello from us. Unsubscribe: {{.UnsubscribeURL}}"`
			repl := old
			switch tt.field {
			case "subject":
				repl = old + "\n    subject: " + quoteYAML(tt.template)
			case "text":
				repl = "    text: " + quoteYAML(tt.template)
			case "html":
				repl = old + "\n    html: " + quoteYAML(tt.template)
			}
			src := strings.Replace(strings.Replace(valid, "    subject: Hi {{.FirstName}}\n", "", 1), old, repl, 1)
			if tt.field != "subject" {
				src = strings.Replace(src, repl, "    subject: Hi\n"+repl, 1)
			}
			_, err := journeys.Parse("t.yaml", []byte(src))
			var ps journeys.Problems
			require.True(t, errors.As(err, &ps), "got %v for\n%s", err, src)
			require.Len(t, ps, 1, "%v", ps)
			require.Contains(t, ps[0].Message, tt.want)
			requireMarketersWords(t, ps)
		})
	}
}

func quoteYAML(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// A template error in a literal block is placed on its line in the file.
func TestTemplateErrorsAreOnTheirLine(t *testing.T) {
	t.Parallel()
	src := strings.Replace(valid, `    text: "Hello from us. Unsubscribe: {{.UnsubscribeURL}}"`, `    text: |
      Hello,
      this is for {{.Compnay}}.
      Unsubscribe: {{.UnsubscribeURL}}`, 1)
	_, err := journeys.Parse("t.yaml", []byte(src))
	require.ErrorContains(t, err, `t.yaml:22:21: content "hello" text: unknown field .Compnay; did you mean .Company?`)

	// A line indented further than the block keeps its extra spaces.
	_, err = journeys.Parse("t.yaml", []byte(strings.Replace(src, "      this is for", "        this is for", 1)))
	require.ErrorContains(t, err, `t.yaml:22:23: content "hello" text: unknown field .Compnay`)

	// A plain value folded over two lines is placed where it starts.
	_, err = journeys.Parse("t.yaml", []byte(strings.Replace(valid, "    subject: Hi {{.FirstName}}", "    subject: Hi there\n      {{.FirstNam}}", 1)))
	require.ErrorContains(t, err, `t.yaml:19:14: content "hello" subject: unknown field .FirstNam`)
}

func TestBranchCasesThatCanNeverHold(t *testing.T) {
	t.Parallel()
	src := `id: j
name: J
scoring:
  mql: 10
  events:
    email_click: {points: 0, axis: interest}
  fit:
    - {field: title, equals: CTO, points: 30}
handoff:
  min_score: 20
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: interest
    steps:
      - id: check
        branch:
          cases:
            - when: {score_at_least: 50, score_below: 50}
              goto: hello
            - when: {score_at_least: 31}
              goto: hello
            - when: {stage: later}
              goto: hello
            - when: {field: {name: industry, one_of: [saas]}}
              goto: hello
            - when: {field: {name: industry, one_of: [saas]}}
              goto: bye
          otherwise: hello
      - id: hello
        send: hello
  - id: later
    steps:
      - id: bye
        exit: done
`
	ps := problems(t, src)
	requireProblem(t, ps, 19, 21, "this case can never hold: no score is at least 50 and below 50")
	requireProblem(t, ps, 21, 38, "this case can never hold: no lead can reach 31, since the model gives at most 30 fit points and nothing adds points")
	requireProblem(t, ps, 23, 29, "this case can never hold: a lead at this step is in the interest stage")
	requireProblem(t, ps, 27, 21, "this case can never be taken: case 4 has the same condition and is checked first")
	require.Len(t, ps, 4, "%v", ps)

	// An event that gives points, or a step that adds some, lifts the ceiling.
	_, err := journeys.Parse("j.yaml", []byte(strings.Replace(src, "points: 0,", "points: 1,", 1)))
	require.NotContains(t, err.Error(), "no lead can reach 31")
	// A set_stage in the branch's stage can put a lead in the other one.
	_, err = journeys.Parse("j.yaml", []byte(strings.Replace(src, "      - id: check\n", "      - {id: promote, set_stage: later}\n      - id: check\n", 1)))
	require.NotContains(t, err.Error(), "in the interest stage")
}

func TestWarningsDoNotStopAJourney(t *testing.T) {
	t.Parallel()
	src := valid + `  - id: offer
    stage: elsewhere
    subject: An offer
    text: "Unsubscribe: {{.UnsubscribeURL}}"
`
	src = strings.Replace(src, "content:\n", `  - id: later
    steps:
      - id: early-offer
        send: offer
  - id: elsewhere
    steps:
      - id: bye
        exit: done
content:
`, 1)
	j, warnings, err := journeys.Check("w.yaml", []byte(src), journeys.Options{})
	require.NoError(t, err)
	require.NotNil(t, j)
	require.Len(t, warnings, 1, "%v", warnings)
	require.True(t, warnings[0].Warning)
	require.Equal(t, `w.yaml:19:15: warning: content "offer" is for the elsewhere stage, but this step sends it in the later stage; move the step, or set the content's stage to later`, warnings[0].String())

	_, err = journeys.Parse("w.yaml", []byte(src))
	require.NoError(t, err, "Parse returns errors only")
}

func TestWaitUntilADateInThePast(t *testing.T) {
	t.Parallel()
	src := func(date string) []byte {
		return []byte(strings.Replace(valid, "        wait: 3d", "        wait_until: {date: "+date+"}", 1))
	}
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	opts := journeys.Options{Now: now}
	_, _, err := journeys.Check("d.yaml", src("2026-02-14"), opts)
	require.ErrorContains(t, err, "d.yaml:15:28: wait_until date 2026-02-14 is in the past (it is 2026-03-02 09:30 UTC now): every lead would pass this step at once; set a later date, or remove the step")
	_, _, err = journeys.Check("d.yaml", src("2026-03-02T09:00:00Z"), opts)
	require.ErrorContains(t, err, "is in the past")

	// Today is not past until midnight has passed in every zone.
	_, _, err = journeys.Check("d.yaml", src("2026-03-02"), opts)
	require.NoError(t, err)
	_, _, err = journeys.Check("d.yaml", src("2026-03-02"), journeys.Options{Now: now.Add(3 * time.Hour)})
	require.ErrorContains(t, err, "is in the past")
	_, _, err = journeys.Check("d.yaml", src("2026-12-01"), opts)
	require.NoError(t, err)

	// Without a clock (Parse, workers, tests) the date is not judged.
	_, err = journeys.Parse("d.yaml", src("2020-01-01"))
	require.NoError(t, err)
}

func TestJourneyWideValues(t *testing.T) {
	t.Parallel()
	for replace, want := range map[string]string{
		"  min_score: 20": "  min_score: 20\n  sales_email: Sales Team <sales@example.com>",
		"name: Tiny":      "name: Tiny\non_content_error: retry",
	} {
		_, err := journeys.Parse("v.yaml", []byte(strings.Replace(valid, replace, want, 1)))
		require.Error(t, err, want)
	}
	_, err := journeys.Parse("v.yaml", []byte(strings.Replace(valid, "  min_score: 20", "  min_score: 20\n  sales_email: sales team", 1)))
	require.ErrorContains(t, err, `v.yaml:9:16: sales_email "sales team" is not an e-mail address; write one address, like sales@example.com`)
	_, err = journeys.Parse("v.yaml", []byte(strings.Replace(valid, "name: Tiny", "name: Tiny\non_content_error: retry", 1)))
	require.ErrorContains(t, err, `v.yaml:3:19: on_content_error "retry": use exit (the lead leaves the journey, the default) or skip`)
	for _, ok := range []string{"exit", "skip"} {
		_, err = journeys.Parse("v.yaml", []byte(strings.Replace(valid, "name: Tiny", "name: Tiny\non_content_error: "+ok, 1)))
		require.NoError(t, err, ok)
	}
	_, err = journeys.Parse("v.yaml", []byte(strings.Replace(valid, "  min_score: 20", "  min_score: 20\n  sales_email: sales@example.com", 1)))
	require.NoError(t, err)
}

// TestRenderingForASendIsBounded: a template published before validation
// bounded what it writes fails to render for sending, rather than build a
// message of any size.
func TestRenderingForASendIsBounded(t *testing.T) {
	t.Parallel()
	c := journeys.Content{ID: "huge", Subject: "Hi", Text: `{{printf "%02000000d" 1}}`}
	_, err := c.Render(journeys.TemplateData{})
	require.ErrorContains(t, err, "writes too much")
}
