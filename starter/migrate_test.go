package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/workflows"
)

// migrateV1 parks each lead in a step of one kind, by its profile field
// "park": every kind of step a lead can wait in, and a hand-off.
const migrateV1 = `id: migr
name: Migration test
scoring:
  mql: 50
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 1000
frequency_cap: {max: 1, per: 30d}
content:
  - {id: a, stage: one, subject: "A v1", text: "a {{.UnsubscribeURL}}"}
  - {id: b, stage: one, subject: "B v1", text: "b {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - id: route
        branch:
          cases:
            - {when: {field: {name: park, one_of: [wait_for]}}, goto: listen}
            - {when: {field: {name: park, one_of: [wait_until]}}, goto: launch}
            - {when: {field: {name: park, one_of: [task]}}, goto: call}
            - {when: {field: {name: park, one_of: [handoff]}}, goto: give}
            - {when: {field: {name: park, one_of: [send]}}, goto: first}
          otherwise: pause
      - {id: pause, wait: 30d, next: mail}
      - id: listen
        wait_for: {events: [demo_request], timeout: 30d}
        next: mail
      - {id: launch, wait_until: {date: "2099-01-01"}, next: mail}
      - id: call
        task: {title: "Call {{.FirstName}}", timeout: 30d, outcomes: {reached: mail}, on_timeout: mail}
      - {id: give, handoff: {note: parked}}
      - {id: after, wait: 1d, next: mail}
      - {id: first, send: a}
      - {id: capped, send: b}
      - {id: mail, send: a}
      - {id: bye, exit: done}
`

// migrateV2 renames the wait, drops the wait_until, keeps the rest, has no
// frequency cap and new subjects.
var migrateV2 = strings.NewReplacer(
	`{id: pause, wait: 30d, next: mail}`, `{id: nap, wait: 30d, next: mail}`,
	`      - {id: launch, wait_until: {date: "2099-01-01"}, next: mail}`+"\n", ``,
	`goto: launch}`, `goto: nap}`,
	`otherwise: pause`, `otherwise: nap`,
	`frequency_cap: {max: 1, per: 30d}`+"\n", ``,
	`"A v1"`, `"A v2"`, `"B v1"`, `"B v2"`,
).Replace(migrateV1)

// TestMigrateLeadsWaitingInEveryKindOfStep: leads wait in a wait, a
// wait_for, a wait_until, on a task, for a send held by the frequency cap
// and for sales' verdict; a dry run lists them by step and moves nothing;
// -apply moves every mapped one, keeping score and place, and leaves the
// unmapped one on version 1 (exit 1), which a second run maps. A
// content-only version then takes every lead with one command.
func TestMigrateLeadsWaitingInEveryKindOfStep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)
	dir := t.TempDir()
	publish := func(name, src string) {
		t.Helper()
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
		out, err := starter("publish", path)
		require.NoError(t, err, out)
	}
	publish("v1.yaml", migrateV1)

	parks := []string{"wait", "wait_for", "wait_until", "task", "handoff", "send"}
	ids := map[string]string{}
	for _, park := range parks {
		email := strings.ReplaceAll(park, "_", "-") + "@parked.test"
		out, err := starter("enroll", email, "-journey", "migr", "-first-name", "P", "-field", "park="+park)
		require.NoError(t, err, out)
		ids[park] = lead.IDForEmail(email)
	}
	at := func(park string) workflows.Status {
		st, err := workflows.QueryLead(ctx, s.client, ids[park])
		require.NoError(t, err)
		return st
	}
	want := map[string]string{"wait": "pause", "wait_for": "listen", "wait_until": "launch", "task": "call", "handoff": "after", "send": "capped"}
	eventually(t, "every lead parked", func() bool {
		for park, step := range want {
			st, err := workflows.QueryLead(ctx, s.client, ids[park])
			if err != nil || st.Step != step || (park == "send" && st.EmailsSent != 1) {
				return false
			}
		}
		return at("handoff").Lifecycle == workflows.LifecycleHandedOff
	})
	s.event(t, lead.Profile{ID: ids["wait"]}, "click-1", lead.EmailClick)
	eventually(t, "the click scored", func() bool { return at("wait").Total == 5 })
	before := map[string]workflows.Status{}
	for _, park := range parks {
		before[park] = at(park)
	}
	publish("v2.yaml", migrateV2)

	// The dry run.
	out, err := starter("migrate", "-journey", "migr", "-from", "1", "-map", "pause=nap")
	require.NoError(t, err, out)
	for _, line := range []string{
		"migr version 1 → 2: the database shows 6 leads running on version 1",
		`pause  `, `nap (mapped; keeps its place)`,
		`listen (same ID; keeps its place)`,
		`launch`, `NOT MAPPED: its leads stay on version 1`,
		`call (same ID; keeps its place)`,
		`after (same ID; keeps its place)`,
		`capped (same ID; keeps its place)`,
		"dry run: nothing moved. Run again with -apply to move 5 leads; 1 lead at steps not mapped would stay on version 1",
	} {
		require.Contains(t, out, line)
	}
	require.Regexp(t, `(?m)^pause\s+wait\s+one\s+1\s+nap`, out)
	require.Regexp(t, `(?m)^route\s+branch\s+one\s+0\s+route`, out)
	require.Equal(t, 1, at("wait").JourneyVersion, "a dry run moves nothing")
	_, err = starter("migrate", "-journey", "migr", "-from", "1", "-map", "pause=nowhere")
	require.ErrorContains(t, err, `-map pause=nowhere: "nowhere" is not a step of migr version 2`)
	_, err = starter("migrate", "-journey", "migr")
	require.ErrorContains(t, err, "name the version the leads are on: -from N")

	// Apply: five move, the wait_until lead stays.
	out, err = starter("migrate", "-journey", "migr", "-from", "1", "-map", "pause=nap", "-apply")
	require.EqualError(t, err, "not moved (see above): 1 lead", out)
	require.Contains(t, out, "moved 5 leads to version 2 (4 kept their place in a wait)")
	require.Contains(t, out, "left on version 1, their steps not mapped: 1 lead")
	for park, step := range map[string]string{"wait": "nap", "wait_for": "listen", "task": "call", "handoff": "after"} {
		st := at(park)
		require.Equal(t, 2, st.JourneyVersion, park)
		require.Equal(t, step, st.Step, park)
		require.Equal(t, before[park].Total, st.Total, "%s: the score carried over", park)
		require.EqualValues(t, before[park].Lifecycle, st.Lifecycle, park)
		require.Equal(t, before[park].BuyingStage, st.BuyingStage, park)
	}
	require.Equal(t, 1, at("wait_until").JourneyVersion)
	require.Equal(t, "launch", at("wait_until").Step)
	// The send the v1 frequency cap held goes at once under v2, with v2's
	// subject: counted at the SMTP server.
	// (Version 2 has no cap, so its next email follows at once.)
	all, err := s.sink.Wait(ctx, func([]smtpsink.Message) bool { return len(s.sink.To("send@parked.test")) == 3 })
	require.NoError(t, err, "%s", subjects(all))
	require.Equal(t, []string{"A v1", "B v2", "A v2"}, subjects(s.sink.To("send@parked.test")))
	// The database follows: the leads' version, and a mark of the move.
	var onTwo, marks int
	require.NoError(t, s.db.QueryRow(ctx, `select count(*) from leads where journey_id = 'migr' and journey_version = 2`).Scan(&onTwo))
	require.NoError(t, s.db.QueryRow(ctx, `select count(*) from score_snapshots where kind = $1`, string(progress.Migrated)).Scan(&marks))
	require.Equal(t, 5, onTwo)
	require.Equal(t, 5, marks)
	// The task stayed open: the rep's outcome is taken by version 2.
	out, err = starter("task", "task@parked.test", "reached")
	require.NoError(t, err, out)

	// The unmapped lead, mapped on a second run.
	out, err = starter("migrate", "-journey", "migr", "-from", "1", "-map", "launch=nap", "-apply")
	require.NoError(t, err, out)
	require.Contains(t, out, "moved 1 lead to version 2 (0 kept their place in a wait)")
	require.Equal(t, "nap", at("wait_until").Step)

	// A content-only change: every running lead moves with one command.
	publish("v3.yaml", strings.ReplaceAll(migrateV2, `"A v2"`, `"A v3"`))
	out, err = starter("migrate", "-journey", "migr", "-content-only", "-apply")
	require.NoError(t, err, out)
	require.Contains(t, out, "migr version 2 → 3")
	require.Regexp(t, `moved \d leads? to version 3`, out)
	for _, park := range []string{"wait", "wait_for", "wait_until", "handoff"} {
		require.Equal(t, 3, at(park).JourneyVersion, park)
	}
	publish("v4.yaml", strings.ReplaceAll(migrateV2, `timeout: 30d}`, `timeout: 20d}`))
	out, err = starter("migrate", "-journey", "migr", "-content-only", "-to", "4")
	require.Error(t, err, out)
	require.Contains(t, out, `is not a content-only change (step "listen" of stage "one" differs)`)
}

func subjects(msgs []smtpsink.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Subject)
	}
	return out
}
