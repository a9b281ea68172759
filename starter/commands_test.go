package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/nurture-dev/nurture/console"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/workflows"
)

// startSystemForCLI starts a system on a database of its own (the
// commands open it by URL) and returns a way to run starter commands
// against it; vars add or change environment variables.
func startSystemForCLI(t testing.TB, ctx context.Context, vars ...string) (*system, func(args ...string) (string, error)) {
	t.Helper()
	return startSystemForCLIWith(t, ctx, nil, vars...)
}

// startSystemForCLIWith is startSystemForCLI with options for the system.
func startSystemForCLIWith(t testing.TB, ctx context.Context, opts []func(*system), vars ...string) (*system, func(args ...string) (string, error)) {
	t.Helper()
	url := storetest.NewDatabase(t)
	db, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	s := startSystemOn(t, db, "", 1, opts...)
	env := map[string]string{"DATABASE_URL": url, "TEMPORAL_ADDRESS": s.temporal.Address, "TEMPORAL_TASK_QUEUE": t.Name(), "LINK_SECRET": testLinkSecret,
		"SMTP_HOST": s.sink.Host(), "SMTP_PORT": strconv.Itoa(s.sink.Port()), "SMTP_TLS": "none"}
	s.cliEnv = env
	return s, cli(ctx, env, vars...)
}

// cli runs starter commands with the environment env, changed by vars
// (name, value, name, value ...).
func cli(ctx context.Context, env map[string]string, vars ...string) func(args ...string) (string, error) {
	env = maps.Clone(env)
	for i := 0; i+1 < len(vars); i += 2 {
		env[vars[i]] = vars[i+1]
	}
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		e := &environment{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &out}
		err := dispatch(ctx, e, args)
		return out.String(), err
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)
	db := s.db

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
	require.Contains(t, out, "recorded demo_request crm-1 for lead "+lead.IDForEmail("ada@analytical.test")+"; delivered to its journey")
	out, err = starter("event", "ada@analytical.test", "demo_request", "-id", "crm-1")
	require.NoError(t, err, out)
	require.Contains(t, out, "event crm-1 was recorded before; delivered again, the journey counts it once")
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
	for _, want := range []string{"Ada <ada@analytical.test>  CTO, Analytical Engines", "lifecycle handed_off", "score", "105  (fit 15, interest 20, intent 70", "event:demo_request", "x1", "+40", "fit:senior title", "behaviour 90 ≥ 60", "hand-off #", "awaiting verdict", "send-benchmark (send)"} {
		require.Contains(t, out, want)
	}

	require.Contains(t, out, "sends: 2 sent (journey emails and notices to sales)")
	require.Regexp(t, `hand-off #\d+ .* owner \S+@\S+  \(awaiting verdict\)`, out, "the hand-off's owner")

	out, err = starter("feedback", "ada@analytical.test", "accepted", "-reason", "meeting booked")
	require.NoError(t, err, out)
	require.Regexp(t, `verdict accepted taken on hand-off #\d+: the lead is now sql`, out)
	out, err = starter("status", "ada@analytical.test")
	require.NoError(t, err, out)
	require.Contains(t, out, "(accepted)")
	// The journey has ended: a second verdict is refused, and says why.
	// (The verdict is answered just before the run closes.)
	eventually(t, "the journey's run closed", func() bool {
		d, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(lead.IDForEmail("ada@analytical.test")), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	_, err = starter("feedback", "ada@analytical.test", "rejected")
	require.Regexp(t, `verdict rejected: conflict: hand-off #\d+ was answered already: accepted \(the lead is sql\)`, err.Error())
	_, err = starter("task", "ada@analytical.test", "reached")
	require.ErrorContains(t, err, "the lead has no running journey")
	out, err = starter("event", "ada@analytical.test", "page_view", "-id", "late-1")
	require.NoError(t, err, out)
	require.Contains(t, out, "not delivered: journey ended (completed)")
	out, err = starter("sends")
	require.NoError(t, err, out)
	require.Contains(t, out, "no sends with status ambiguous")
	out, err = starter("reconcile")
	require.NoError(t, err, out)
	require.Contains(t, out, "PostgreSQL and Temporal agree: nothing to repair")

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
	require.Equal(t, 4, n, "the duplicate and the bad event were not stored; the late one was")

	// A lead in nurture: status says which part of the hand-off rule is
	// missing.
	out, err = starter("enroll", "grace@cobol.test", "-first-name", "Grace")
	require.NoError(t, err, out)
	eventually(t, "grace's journey answers", func() bool {
		out, err = starter("status", "grace@cobol.test")
		return err == nil && strings.Contains(out, "hand-off rule, not met yet:")
	})
	require.Contains(t, out, "  missing  score 0 < 90\n  missing  behaviour (interest + intent) 0 < 60\n")

	// Find leads; take one out of its journey.
	out, err = starter("leads", "-search", "COBOL")
	require.NoError(t, err, out)
	require.Contains(t, out, "grace@cobol.test")
	require.NotContains(t, out, "ada@analytical.test")
	out, err = starter("leads", "-lifecycle", "sql", "-journey", "b2b-nurture")
	require.NoError(t, err, out)
	require.Contains(t, out, "ada@analytical.test")
	require.NotContains(t, out, "grace@cobol.test")
	_, err = starter("leads", "-lifecycle", "hot")
	require.EqualError(t, err, `-lifecycle "hot": use one of nurturing, mql, handed_off, sql, disqualified, exited, goal`)
	_, err = starter("remove", "grace@cobol.test")
	require.EqualError(t, err, "say why the lead is removed (-reason): it is kept with its exit")
	out, err = starter("remove", "grace@cobol.test", "-reason", "works for a competitor")
	require.NoError(t, err, out)
	require.Contains(t, out, `removed grace@cobol.test from b2b-nurture at step "await-interest" (stage interest, was nurturing): works for a competitor`)
	_, err = starter("remove", "grace@cobol.test", "-reason", "again")
	require.ErrorContains(t, err, "the lead has no running journey")
	eventually(t, "grace stored as removed", func() bool {
		out, _ = starter("leads", "-search", "grace")
		return strings.Contains(out, "exited (removed)")
	})

	// The report reads what happened from PostgreSQL: Ada entered, was
	// handed off and accepted; the benchmark went out.
	out, err = starter("report", "-journey", "b2b-nurture")
	require.NoError(t, err, out)
	for _, want := range []string{"b2b-nurture version 1: 2 leads entered", "reached interest", "sales: accepted", "benchmark-report", "sales: accepted"} {
		require.Contains(t, out, want)
	}
	out, err = starter("report", "-journey", "b2b-nurture", "-format", "csv")
	require.NoError(t, err, out)
	require.Contains(t, out, "journey,version,section,name,measure,value\nb2b-nurture,1,funnel,entered,leads,2\n")
	out, err = starter("report", "-format", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"cost_per_accepted_lead": `)
	_, err = starter("report", "-format", "xml")
	require.EqualError(t, err, `-format "xml": use table, json or csv`)
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

func TestConsoleAccount(t *testing.T) {
	t.Parallel()
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		env := &environment{getenv: func(string) string { return "" }, stdin: strings.NewReader(stdin), stdout: &out, stderr: &out}
		err := dispatch(context.Background(), env, append([]string{"console-account"}, args...))
		return out.String(), err
	}
	out, err := run("a good long password\n", "ada", "marketer")
	require.NoError(t, err, out)
	accounts, err := console.ParseAccounts(strings.NewReader(out))
	require.NoError(t, err)
	require.Equal(t, console.RoleMarketer, accounts["ada"].Role)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(accounts["ada"].Hash), []byte("a good long password")))
	_, err = run("short\n", "ada", "marketer")
	require.EqualError(t, err, "the password is shorter than 12 characters")
	_, err = run("a good long password\n", "ada", "boss")
	require.EqualError(t, err, `role "boss": use sales, marketer or admin`)
	_, err = run("", "ada", "sales")
	require.EqualError(t, err, "no password on standard input")
	_, err = run("a good long password\n", "ada")
	require.ErrorContains(t, err, "name the account and its role")
}
