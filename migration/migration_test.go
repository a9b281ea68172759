package migration_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/migration"
	"github.com/nurture-dev/nurture/workflows"
)

const head = `id: m
name: M
scoring: {mql: 10, events: {demo_request: {points: 100, axis: intent}}}
handoff: {min_score: 100}
content:
  - {id: a, stage: one, subject: A, text: "a {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
`

func parse(t *testing.T, steps string) *journeys.Journey {
	t.Helper()
	j, err := journeys.Parse("m.yaml", []byte(head+steps))
	require.NoError(t, err)
	return j
}

func TestResolveMapsByNameThenByID(t *testing.T) {
	t.Parallel()
	from := parse(t, `      - {id: s1, send: a}
      - {id: pause, wait: 3d}
      - id: call
        task: {title: Call, timeout: 2d, outcomes: {reached: gone}, on_timeout: bye}
      - {id: gone, wait: 1d}
      - {id: bye, exit: done}
`)
	to := parse(t, `      - {id: s1, send: a}
      - {id: nap, wait: 1d}
      - id: call
        task: {title: Call, timeout: 2d, outcomes: {reached: bye, busy: bye}, on_timeout: bye}
      - {id: bye, exit: done}
`)
	m := workflows.Migration{JourneyID: "m", From: 1, To: 2}
	steps, rows, err := migration.Resolve(from, to, m, map[string]string{"pause": "nap"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"s1": "s1", "pause": "nap", "call": "call", "bye": "bye"}, steps)
	require.Equal(t, []migration.Row{
		{Step: "s1", Kind: journeys.KindSend, Stage: "one", To: "s1", How: migration.SameID, KeepsPlace: true},
		{Step: "pause", Kind: journeys.KindWait, Stage: "one", To: "nap", How: migration.Named, KeepsPlace: true},
		// Other outcomes: the open task is closed and the lead enters afresh.
		{Step: "call", Kind: journeys.KindTask, Stage: "one", To: "call", How: migration.SameID},
		{Step: "gone", Kind: journeys.KindWait, Stage: "one", How: migration.Unmapped},
		{Step: "bye", Kind: journeys.KindExit, Stage: "one", To: "bye", How: migration.SameID},
	}, rows)

	_, _, err = migration.Resolve(from, to, m, map[string]string{"pauze": "nap", "gone": "napp"})
	require.EqualError(t, err, `-map gone=napp: "napp" is not a step of m version 2`+"\n"+`-map pauze=nap: "pauze" is not a step of m version 1`)
}

func TestContentOnlyChange(t *testing.T) {
	t.Parallel()
	a := parse(t, "      - {id: s1, send: a}\n      - {id: bye, exit: done}\n")
	b := *a
	b.Content = []journeys.Content{{ID: "a", Stage: "one", Subject: "A, better", Text: "a {{.UnsubscribeURL}}"}}
	b.Name = "M, renamed"
	require.NoError(t, journeys.ContentOnlyChange(a, &b))
	c := parse(t, "      - {id: s1, send: a}\n      - {id: bye, exit: finished}\n")
	require.EqualError(t, journeys.ContentOnlyChange(a, c), `step "bye" of stage "one" differs`)
	d := *a
	d.MaxDuration = "30d"
	require.EqualError(t, journeys.ContentOnlyChange(a, &d), "max_duration differs")
}
