package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

func TestCommands(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := storetest.NewDatabase(t)
	db, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	s := startSystemOn(t, db, "", 1)
	vars := map[string]string{"DATABASE_URL": url, "TEMPORAL_ADDRESS": s.temporal.Address, "TEMPORAL_TASK_QUEUE": t.Name(), "LINK_SECRET": "x"}
	starter := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		env := &environment{getenv: func(k string) string { return vars[k] }, stdout: &out, stderr: &errOut}
		err := dispatch(ctx, env, args)
		return out.String() + errOut.String(), err
	}

	out, err := starter("publish", "../journeys/b2b-nurture.yaml")
	require.NoError(t, err)
	require.Contains(t, out, "is unchanged; still version 1", "startSystem published the same file")

	out, err = starter("enroll", "Ada@Analytical.test", "-first-name", "Ada", "-company", "Analytical Engines", "-title", "CTO", "-field", "industry=saas")
	require.NoError(t, err, out)
	require.Contains(t, out, "enrolled ada@analytical.test")
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) == 1 })
	require.NoError(t, err)

	out, err = starter("event", "ada@analytical.test", "demo_request", "-id", "crm-1", "-prop", "source=website")
	require.NoError(t, err, out)
	require.Contains(t, out, "recorded demo_request crm-1")
	out, err = starter("event", "ada@analytical.test", "demo_request", "-id", "crm-1")
	require.NoError(t, err, out)
	require.Contains(t, out, "already recorded; delivered again, it counts once")
	for _, typ := range []string{"contact_form", "webinar_signup"} {
		_, err = starter("event", "ada@analytical.test", typ)
		require.NoError(t, err)
	}
	eventually(t, "hand-off", func() bool {
		out, _ := starter("status", "ada@analytical.test")
		return bytes.Contains([]byte(out), []byte("handed_off"))
	})
	out, err = starter("status", "ada@analytical.test")
	require.NoError(t, err, out)
	for _, want := range []string{"Ada  <ada@analytical.test>  CTO, Analytical Engines", "lifecycle handed_off", "score", "105  (fit 15, interest 20, intent 70", "event:demo_request", "x1", "+40", "fit:senior title", "behaviour 90 ≥ 60", "hand-off #", "awaiting verdict", "send-benchmark (send)"} {
		require.Contains(t, out, want)
	}

	out, err = starter("feedback", "ada@analytical.test", "accepted", "-reason", "meeting booked")
	require.NoError(t, err, out)
	eventually(t, "verdict recorded", func() bool {
		out, _ := starter("status", "ada@analytical.test")
		return bytes.Contains([]byte(out), []byte("(accepted)"))
	})

	// Bad input gets a clear error and changes nothing.
	_, err = starter("event", "ada@analytical.test", "pricing_pgae_view")
	require.ErrorContains(t, err, `event type "pricing_pgae_view" is unknown; known types:`)
	_, err = starter("event", "nobody@analytical.test", "page_view")
	require.ErrorContains(t, err, "is unknown; enrol it first")
	_, err = starter("enroll", "not-an-address")
	require.ErrorContains(t, err, `lead e-mail "not-an-address" is not a valid address`)
	_, err = starter("enroll", "x@y.test", "-journey", "no-such-journey")
	require.ErrorContains(t, err, "publish it first")
	_, err = starter("feedback", "ada@analytical.test", "maybe")
	require.ErrorContains(t, err, `verdict "maybe": use accepted, rejected or recycle`)
	_, err = starter("frobnicate")
	require.ErrorContains(t, err, `unknown command "frobnicate"`)
	n, err := store.CountEvents(ctx, db, lead.IDForEmail("ada@analytical.test"))
	require.NoError(t, err)
	require.Equal(t, 3, n, "the duplicate and the bad event were not stored")
}

func TestOfflineCommands(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		env := &environment{getenv: func(string) string { return "" }, stdout: &out, stderr: &out}
		err := dispatch(context.Background(), env, args)
		return out.String(), err
	}
	out, err := run("validate", "../journeys/b2b-nurture.yaml", "../journeys/recycle-nurture.yaml")
	require.NoError(t, err, out)
	require.Contains(t, out, "../journeys/b2b-nurture.yaml: ok (journey b2b-nurture, 3 stages")

	out, err = run("validate", "../journeys/testdata/ten-mistakes.yaml")
	require.EqualError(t, err, "10 problem(s)")
	require.Contains(t, out, `ten-mistakes.yaml:17:9: unknown key "wiat"; did you mean "wait"?`)

	// Errors and warnings together, in file order; the warnings alone
	// would not fail the file. (The wait_until date in it is judged by the
	// real clock here, so its line is not asserted.)
	out, err = run("validate", "../journeys/testdata/many-mistakes.yaml")
	require.ErrorContains(t, err, "problem(s)")
	require.Contains(t, out, `many-mistakes.yaml:13:14: min_score: expected a whole number, got 90.5
../journeys/testdata/many-mistakes.yaml:14:16: sales_email "sales team" is not an e-mail address`)
	require.Contains(t, out, `many-mistakes.yaml:40:15: warning: content "demo-offer" is for the evaluation stage, but this step sends it in the interest stage`)
	require.NotContains(t, out, "cannot unmarshal")

	// Warnings alone do not fail a file.
	warned := filepath.Join(t.TempDir(), "warned.yaml")
	require.NoError(t, os.WriteFile(warned, []byte(`id: warned
name: Warned
description: 017
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 20
stages:
  - id: interest
    steps:
      - {id: hello, send: hello}
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
`), 0o644))
	out, err = run("validate", warned)
	require.NoError(t, err, out)
	require.Contains(t, out, "warned.yaml:3:14: warning: description: 017 is read as 15")
	require.Contains(t, out, "warned.yaml: ok (journey warned, 1 stages, 1 steps, 1 content items, 1 warning(s))")

	out, err = run("diagram", "-markdown", "../journeys/b2b-nurture.yaml")
	require.NoError(t, err, out)
	require.True(t, strings.HasPrefix(out, "```mermaid\nflowchart TD\n"), out)
	require.Contains(t, out, `s_final_check -->|"otherwise"| s_completed`)

	out, err = run("schema")
	require.NoError(t, err)
	shipped, err := os.ReadFile("../journeys/journey.schema.json")
	require.NoError(t, err)
	require.Equal(t, string(shipped), out)
}
