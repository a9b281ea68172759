package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// browser starts headless Chromium (Debian's chromium package; CHROME_PATH
// names another) and returns a context that drives it. Screenshots go to
// SCREENSHOTS_DIR, which .ci/run keeps, or to a temporary folder.
func browser(t *testing.T) (context.Context, string) {
	t.Helper()
	path := os.Getenv("CHROME_PATH")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		if os.Getenv("NO_BROWSER") != "" {
			t.Skip("NO_BROWSER is set and no Chromium is installed")
		}
		t.Fatal("the browser tests need Chromium: apt-get install chromium (or set CHROME_PATH; NO_BROWSER=1 skips them)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return ctx, dir
}

// do runs browser steps.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// text is the text of the first element a CSS selector matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return s
}

// eval evaluates JavaScript (awaiting a promise) and returns its value.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	require.NoError(t, err, js)
	return v
}

// shot saves a screenshot of the whole page.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(dir, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot %s", path)
}

func signIn(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#who")))
}

func TestInABrowser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, dir := browser(t)
	ada := b.handOff(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO",
		Fields: map[string]string{"bant_budget": "approved", "bant_authority": "decides", "bant_timeline": "this quarter"}})
	grace := b.enroll(lead.Profile{Email: "grace@cobol.test", FirstName: "Grace", LastName: "Hopper", Company: "Cobol Systems", Title: "VP Engineering"}, "b2b-nurture")
	_, err := b.in.Record(b.ctx, lead.Event{ID: "g1", LeadID: grace.ID, Type: lead.WebinarSignup, OccurredAt: start})
	require.NoError(t, err)
	b.enroll(lead.Profile{Email: "linus@kernel.test", FirstName: "Linus", Company: "Kernel Co"}, "calls")
	base := b.http.URL

	// Sales signs in and lands in the inbox.
	signIn(t, ctx, base, "sales")
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#accept-"+ada.ID)))
	require.Equal(t, "sales · sales", text(t, ctx, "#who"))
	shot(t, ctx, dir, "inbox")

	// Finds a lead and sees its score breakdown.
	link := chromedp.CSS(`a[href="/console/leads/` + grace.ID + `"]`)
	do(t, ctx,
		chromedp.Navigate(base+"/console/leads"),
		// The search box of the page just loaded, not of the one before.
		chromedp.WaitVisible(chromedp.CSS(`form #q`)),
		chromedp.SendKeys(chromedp.CSS("#q"), "cobol"),
		chromedp.Click(chromedp.CSS("#search")),
		chromedp.WaitVisible(link),
		chromedp.Click(link),
		chromedp.WaitVisible(chromedp.CSS("#breakdown")))
	require.Contains(t, text(t, ctx, "#breakdown"), "webinar_signup")
	require.Contains(t, text(t, ctx, "#rule"), "score")
	shot(t, ctx, dir, "lead")

	// Accepts the hand-off in the inbox; the answer is the journey's.
	do(t, ctx,
		chromedp.Navigate(base+"/console/inbox"),
		chromedp.WaitVisible(chromedp.CSS("#accept-"+ada.ID)),
		chromedp.Click(chromedp.CSS("#accept-"+ada.ID)),
		chromedp.WaitVisible(chromedp.CSS("#answer")))
	require.Contains(t, text(t, ctx, "#answer"), "accepted. The lead is now sql.")
	b.eventually("sql in PostgreSQL", func() bool {
		l, err := store.GetLead(b.ctx, b.db, ada.ID)
		return err == nil && l.Lifecycle == string(workflows.LifecycleSQL)
	})
	var result workflows.Result
	require.NoError(t, b.client.GetWorkflow(b.ctx, workflows.WorkflowID(ada.ID), "").Get(b.ctx, &result))
	require.EqualValues(t, workflows.LifecycleSQL, result.Lifecycle, "and in its workflow")

	// Sales cannot pause a journey: no page offers it, and a forged
	// request with the session's own token is refused.
	do(t, ctx, chromedp.Navigate(base+"/console/journeys/b2b-nurture"), chromedp.WaitVisible(chromedp.CSS("#answer")))
	require.Contains(t, text(t, ctx, "#answer"), "Your role (sales) may not see journeys")
	status := eval[int](t, ctx, `(async () => {
		const csrf = document.querySelector('input[name=csrf]').value;
		const r = await fetch('/console/journeys/b2b-nurture/pause', {method: 'POST', body: new URLSearchParams({csrf: csrf, reason: 'sales tried'})});
		return r.status;
	})()`)
	require.Equal(t, 403, status)
	_, paused, err := store.JourneyPaused(b.ctx, b.db, "b2b-nurture")
	require.NoError(t, err)
	require.False(t, paused)

	// A marketer sees the funnel drawn, the journey's diagram, and what
	// needs attention.
	do(t, ctx, chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.CSS("#name")))
	signIn(t, ctx, base, "marketer")
	do(t, ctx, chromedp.Navigate(base+"/console/funnel?journey=b2b-nurture&period=all"), chromedp.WaitVisible(chromedp.CSS("svg.chart rect")))
	bars := eval[int](t, ctx, `[...document.querySelectorAll('svg.chart rect')].filter(r => r.getBBox().width > 0).length`)
	require.GreaterOrEqual(t, bars, 5, "enrolled, a stage, MQL, handed off, accepted")
	shot(t, ctx, dir, "funnel")
	do(t, ctx, chromedp.Navigate(base+"/console/journeys/b2b-nurture"), chromedp.WaitVisible(chromedp.CSS("#diagram svg")))
	diagram := eval[string](t, ctx, `document.querySelector('#diagram svg').textContent`)
	require.Contains(t, diagram, "benchmark", "Mermaid drew the journey")
	shot(t, ctx, dir, "journey")
	do(t, ctx, chromedp.Navigate(base+"/console/journeys"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot(t, ctx, dir, "journeys")
	do(t, ctx, chromedp.Navigate(base+"/console/attention"), chromedp.WaitVisible(chromedp.CSS("#no-ambiguous")))
	shot(t, ctx, dir, "attention")
	t.Logf("screenshots in %s", dir)
}
