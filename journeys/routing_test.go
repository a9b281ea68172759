package journeys_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
)

const routedHead = `id: j
name: J
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 20
  routing:
    rules:
      - {field: country, one_of: [DE, AT, CH], team: dach}
      - {field: employees, range: {min: 1000}, owner: enterprise@acme.test}
      - {field: industry, contains: [bank], owner: finance@acme.test}
    teams:
      dach: [anna@acme.test, ben@acme.test]
    fallback: sales@acme.test
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: interest
    steps:
      - {id: hello, send: hello}
`

func TestRouting(t *testing.T) {
	t.Parallel()
	j, err := journeys.Parse("j.yaml", []byte(routedHead))
	require.NoError(t, err)
	rt := j.Handoff.Routing
	for _, c := range []struct {
		fields map[string]string
		want   journeys.Route
	}{
		{map[string]string{"country": "de", "employees": "5000"}, journeys.Route{Team: "dach", Members: []string{"anna@acme.test", "ben@acme.test"}}},
		{map[string]string{"country": "FR", "employees": "1,200"}, journeys.Route{Owner: "enterprise@acme.test"}},
		{map[string]string{"employees": "999", "industry": "Retail Banking"}, journeys.Route{Owner: "finance@acme.test"}},
		{map[string]string{}, journeys.Route{Owner: "sales@acme.test"}},
	} {
		require.Equal(t, c.want, rt.Route(lead.Profile{Fields: c.fields}), "%v", c.fields)
	}
}

func TestRoutingMistakes(t *testing.T) {
	t.Parallel()
	ps := problems(t, `id: j
name: J
scoring:
  mql: 10
handoff:
  min_score: 20
  routing:
    rules:
      - {field: country, team: nordics}
      - {one_of: [DE], owner: someone}
      - {field: size, equals: big, owner: a@acme.test, team: dach}
      - {field: size, equals: big}
    teams:
      dach: []
      emea: [a@acme.test, not-an-address]
    fallback: nobody
  crm_url: crm.acme.test/hooks
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: interest
    steps:
      - {id: hello, send: hello}
`)
	for _, want := range []string{
		`routing rule needs exactly one of equals, one_of, contains or range`,
		`team "nordics" is not one of routing.teams (dach, emea)`,
		`routing rule needs field: the profile field it reads`,
		`owner "someone" is not an e-mail address`,
		`routing rule needs owner (an address) or team (a team's name): one of them`,
		`team "dach" has no members`,
		`team member "not-an-address" is not an e-mail address`,
		`fallback "nobody" is not an e-mail address`,
		`crm_url "crm.acme.test/hooks" is not an http(s) URL`,
	} {
		found := false
		for _, p := range ps {
			found = found || p.Message == want || len(p.Message) >= len(want) && p.Message[:len(want)] == want
		}
		require.True(t, found, "want %q in\n%v", want, ps)
	}
	// Positions point at the value that is wrong.
	requireProblem(t, ps, 9, 32, `team "nordics" is not one of routing.teams`)
}

func TestGoalMistakes(t *testing.T) {
	t.Parallel()
	ps := problems(t, `id: j
name: J
scoring:
  mql: 10
handoff:
  min_score: 20
exit_on: [unsubscribe]
goal: {events: [customer_wonn, unsubscribe], verdicts: [rejected]}
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: interest
    steps:
      - {id: hello, send: hello}
`)
	requireProblem(t, ps, 8, 17, `unknown event type "customer_wonn"`)
	requireProblem(t, ps, 8, 32, "unsubscribe is both a goal and in exit_on")
	requireProblem(t, ps, 8, 57, `goal verdict "rejected": only accepted is a goal`)
}
