package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errOut bytes.Buffer
	dbURL := storetest.NewDatabase(t) // does not exist yet: the demo creates it
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	}
	data := t.TempDir()
	// The demo prints to a file the test reads while it runs: every read
	// sees what was written before it, with no lock to share.
	out := &outputFile{path: filepath.Join(t.TempDir(), "stdout")}
	demo := func() error {
		f, err := os.Create(out.path)
		if err != nil {
			return err
		}
		defer f.Close()
		return run(ctx, []string{"-data", data, "-temporal-port", "0", "-ui-port", "0",
			"-smtp-listen", "127.0.0.1:0", "-receiver-listen", "127.0.0.1:0", "-time-scale", "86400", "-task-queue", "demo-test"},
			getenv, f, &errOut)
	}
	done := make(chan error, 1)
	go func() { done <- demo() }()
	// While it runs, the console it prints shows the funnel to the login it
	// prints.
	line := regexp.MustCompile(`Console\s+(http://\S+)/console/funnel\?refresh=5 \(sign in as marketer or sales, password (\S+)\)`)
	var m []string
	deadline := time.Now().Add(time.Minute)
	for m = line.FindStringSubmatch(out.String()); m == nil && time.Now().Before(deadline); m = line.FindStringSubmatch(out.String()) {
		time.Sleep(50 * time.Millisecond)
	}
	require.NotNil(t, m, "the console's line: %s", out.String())
	funnel := demoConsolePage(t, ctx, m[1], m[2], "/console/funnel?journey=b2b-nurture")
	require.Contains(t, funnel, "marketer · marketer")
	require.NoError(t, <-done, "stderr: %s\nstdout: %s", errOut.String(), out.String())
	got := out.String()
	for _, want := range []string{
		`MAIL      ada@analytical.test      "Ada, the 2026 B2B pipeline benchmark is here" [benchmark-report]`,
		"SALES     ada@analytical.test      verdict accepted",
		`MAIL      ada@analytical.test      "Northwind: 31% more pipeline from the same leads" [case-study]`, // her persona's variant
		"STAGE     margaret@apollo.test     evaluation",                                                      // her source's entry rule
		`[task for sales]`,
		"TASK      margaret@apollo.test",
		"EXIT      margaret@apollo.test     recycled_out", // in the recycle journey
		"summary after",
		// Engagement and verdicts reach the journeys over HTTP, from links
		// in the mail the sink received.
		`HTTP      ada@analytical.test      GET /c/… 302: clicked a link in "Ada, the 2026 B2B pipeline benchmark is here"`,
		`HTTP      ada@analytical.test      POST /v1/events 202: demo_request`,
		`HTTP      linus@kernel.test        POST /unsubscribe/… 200: one-click unsubscribe from the email's List-Unsubscribe header`,
		`HTTP      ada@analytical.test      POST /verdict/… 200: sales pressed "Accept" in the hand-off email`,
		`HTTP      margaret@apollo.test     POST /verdict/… 200: sales pressed "Send back to nurture" in the hand-off email`,
	} {
		require.Contains(t, got, want)
	}
	// Under load the unsubscribe can beat Linus's first email: suppressed.
	require.Regexp(t, `EXIT\s+linus@kernel.test\s+(suppressed: )?unsubscribe`, got)
	summary := got[strings.Index(got, "summary after"):]
	// Fit (CTO, 1200 employees, authority known) counts from the start; the
	// hand-off needs behaviour too, so it comes with the demo request.
	require.Contains(t, got, "SCORE     ada@analytical.test       30  (fit 30, interest 0, intent 0)")
	require.Regexp(t, `HANDOFF\s+ada@analytical.test\s+to sales at score \d+: score \d+ reached the hand-off score 90, behaviour \d+ ≥ 60`, got)
	require.Regexp(t, `ada@analytical.test\s+sql\s+\d+`, summary)
	require.Regexp(t, `margaret@apollo.test\s+exited\s+\d+\s+\d+\s+handed off at \d+, sales said recycle; exit: recycled_out`, summary)
	require.Regexp(t, `grace@cobol.test\s+exited\s+\d+\s+2\s+exit: no_engagement`, summary)

	// Run again on the same data folder: the sample leads are erased and
	// start afresh, though Temporal keeps their finished journeys; the
	// links in the mail of the first run still verify.
	secret, err := os.ReadFile(filepath.Join(data, "link-secret"))
	require.NoError(t, err)
	require.NoError(t, demo(), "stderr: %s\nstdout: %s", errOut.String(), out.String())
	require.Regexp(t, `ada@analytical.test\s+sql\s+\d+`, out.String())
	again, err := os.ReadFile(filepath.Join(data, "link-secret"))
	require.NoError(t, err)
	require.Equal(t, secret, again)
}

// demoConsolePage signs in to the demo's console as its marketer and
// returns a page once it draws a funnel chart (the sample leads need a
// moment to enrol).
func demoConsolePage(t *testing.T, ctx context.Context, base, password, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(p string) string {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		return string(body)
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(get("/console/login"))
	require.Len(t, token, 2)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/console/login",
		strings.NewReader(url.Values{"name": {"marketer"}, "password": {password}, "token": {token[1]}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		page := get(path)
		if strings.Contains(page, `<svg class="chart"`) || time.Now().After(deadline) {
			require.Contains(t, page, `<svg class="chart"`)
			return page
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestDemoSaysWhenPostgresIsDown(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return "postgres://postgres@127.0.0.1:1/nurture?sslmode=disable"
		}
		return ""
	}
	err := run(context.Background(), []string{"-data", t.TempDir(), "-receiver-listen", "127.0.0.1:0"}, getenv, &out, &errOut)
	require.ErrorIs(t, err, store.ErrUnreachable)
	require.Contains(t, store.Hint(err), "start one")
}

// outputFile is the demo's standard output, kept in a file.
type outputFile struct{ path string }

func (o *outputFile) String() string {
	b, _ := os.ReadFile(o.path)
	return string(b)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out, &errOut)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"usage: go run ./dev [flags]", "-keep-running", "-resume", "-time-scale", "-receiver-listen", "-database-url", "$DATABASE_URL"} {
		require.Contains(t, errOut.String(), want)
	}
	require.Empty(t, out.String())
}
