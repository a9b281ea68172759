package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

func TestPreviewCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, err := runCLI("preview", "../journeys/b2b-nurture.yaml", "case-study", "-first-name", "Grace", "-company", "COBOL Inc", "-out", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "== case-study, for every lead without a persona of its own\nsubject: How Northwind cut lead response time from 2 days to 4 minutes\n\nHi Grace,")
	require.Contains(t, out, "== case-study, for persona technical\nsubject: How Northwind's engineers wired nurture into their CRM in a week")
	require.Contains(t, out, "== case-study, for persona executive\nsubject: Northwind: 31% more pipeline from the same leads")
	for _, name := range []string{"case-study.html", "case-study.technical.html", "case-study.executive.html"} {
		html, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Contains(t, string(html), "Grace", name)
	}
	_, err = runCLI("preview", "../journeys/b2b-nurture.yaml", "case-stud", "-out", dir)
	require.ErrorContains(t, err, `journey b2b-nurture has no content "case-stud"; it has benchmark-report, benchmark-reminder`)
}

func TestTestSendIsMarkedAndNeverCounted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := storetest.NewDatabase(t)
	db, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	sink, err := smtpsink.Start(smtpsink.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	env := map[string]string{"DATABASE_URL": url, "SMTP_HOST": sink.Host(), "SMTP_PORT": strconv.Itoa(sink.Port()), "SMTP_TLS": "none"}
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := dispatch(ctx, &environment{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &out}, args)
		return out.String(), err
	}

	out, err := run("test-send", "../journeys/b2b-nurture.yaml", "case-study", "-to", "Me@Marketing.test", "-persona", "executive")
	require.NoError(t, err, out)
	require.Contains(t, out, "sent a test of case-study (persona executive) to me@marketing.test")
	msgs := sink.To("me@marketing.test")
	require.Len(t, msgs, 1)
	require.Equal(t, "[TEST] Northwind: 31% more pipeline from the same leads", msgs[0].Subject)
	require.Equal(t, "1", msgs[0].Header.Get("X-Nurture-Test"))
	var tests, sends int
	require.NoError(t, db.QueryRow(ctx, "select count(*) from test_sends where status = 'sent' and content_id = 'case-study'").Scan(&tests))
	require.NoError(t, db.QueryRow(ctx, "select count(*) from sends").Scan(&sends))
	require.Equal(t, 1, tests, "recorded as a test")
	require.Zero(t, sends, "never among the journeys' sends")

	_, err = run("test-send", "../journeys/b2b-nurture.yaml", "case-study", "-to", "me@marketing.test", "-persona", "intern")
	require.ErrorContains(t, err, `content "case-study" has no variant for persona "intern"; it has one for technical, executive`)
	_, err = run("test-send", "../journeys/b2b-nurture.yaml", "case-study")
	require.ErrorContains(t, err, "-to: say where the test goes")

	// The SMTP server is gone: the command says so and fails; the attempt
	// is recorded as failed.
	require.NoError(t, sink.Close())
	_, err = run("test-send", "../journeys/b2b-nurture.yaml", "case-study", "-to", "me@marketing.test")
	require.ErrorContains(t, err, "test send of case-study to me@marketing.test")
	require.NoError(t, db.QueryRow(ctx, "select count(*) from test_sends where status = 'failed'").Scan(&tests))
	require.Equal(t, 1, tests)
}
