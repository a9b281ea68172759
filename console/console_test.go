package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/nurture-dev/nurture/console"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Every page and every action, and who may not see or do it.
var (
	marketingPages = []string{"/console/journeys", "/console/journeys/b2b-nurture", "/console/funnel", "/console/attention"}
	leadPages      = []string{"/console/leads", "/console/inbox"}
	// actions and the role that may not take them (besides anonymous).
	operateActions = []string{"/console/journeys/b2b-nurture/pause", "/console/journeys/b2b-nurture/resume", "/console/attention/check"}
	salesActions   = []string{"verdict", "task"}
)

func TestNothingWithoutSigningIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada"}, "b2b-nurture")
	anon := b.anonymous()
	pages := append(append(marketingPages, leadPages...), "/console/", "/console/leads/"+p.ID)
	for _, path := range pages {
		r := anon.get(path)
		require.Equal(t, http.StatusSeeOther, r.status, path)
		require.Equal(t, "/console/login?next="+url.QueryEscape(path), r.header.Get("Location"), path)
	}
	actions := append(append(operateActions, "/console/leads/"+p.ID+"/verdict", "/console/leads/"+p.ID+"/task",
		"/console/leads/"+p.ID+"/remove"), "/console/logout")
	for _, path := range actions {
		r := anon.post(path, url.Values{"verdict": {"accepted"}, "reason": {"x"}})
		require.Equal(t, http.StatusForbidden, r.status, path)
		require.Contains(t, r.body, "not signed in", path)
	}
	paused, err := store.PauseJourney(b.ctx, b.db, "calls", "probe")
	require.NoError(t, err)
	require.True(t, paused, "nothing the refused requests did paused a journey")
	// The root of the receiver leads to the console; assets need no
	// session (they hold nothing).
	r := anon.get("/")
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/console/", r.header.Get("Location"))
	r = anon.get("/console/assets/console.css")
	require.Equal(t, http.StatusOK, r.status)
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.anonymous()
	r := u.login("marketer", "wrong password")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Contains(t, r.body, "do not sign in")
	r = u.login("nobody", password)
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = u.login("sso", password)
	require.Equal(t, http.StatusUnauthorized, r.status, "an account of the proxy has no password")

	// Without the form's token (a page elsewhere posting to sign in).
	r = u.postRaw("/console/login", url.Values{"name": {"marketer"}, "password": {password}})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, r.body, "expired or came from elsewhere")

	// After signing in, the next page is the one asked for, and never
	// another site.
	r = u.login("marketer", password)
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Equal(t, "/console/", r.header.Get("Location"))
	for _, c := range u.hc.Jar.Cookies(mustURL(t, b.http.URL+"/console/")) {
		require.NotEqual(t, "", c.Value)
	}
	cookie := r.header.Get("Set-Cookie")
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "SameSite=Lax")
	require.Contains(t, cookie, "Path=/console/")
	r = u.get("/console/")
	require.Equal(t, "/console/funnel", r.header.Get("Location"), "a marketer starts at the funnel")

	v := b.anonymous()
	page := v.get("/console/login?next=" + url.QueryEscape("https://evil.test/"))
	require.Contains(t, page.body, `name="next" value="/console/"`)
	page = v.get("/console/login?next=" + url.QueryEscape("/console/leads?q=ada"))
	require.Contains(t, page.body, `name="next" value="/console/leads?q=ada"`)

	s := b.as("sales")
	r = s.get("/console/")
	require.Equal(t, "/console/inbox", r.header.Get("Location"), "sales starts at the inbox")
	r = s.post("/console/logout", nil)
	require.Equal(t, http.StatusSeeOther, r.status)
	r = s.get("/console/inbox")
	require.Equal(t, http.StatusSeeOther, r.status, "signed out")

	// A session ends after its life.
	m := b.as("marketer")
	b.clock.Add(13 * time.Hour)
	r = m.get("/console/leads")
	require.Equal(t, http.StatusSeeOther, r.status, "the session expired")
}

func TestSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.anonymous()
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, u.login("marketer", "wrong").status)
	}
	r := u.login("marketer", password)
	require.Equal(t, http.StatusTooManyRequests, r.status, "even the right password waits")
	require.Equal(t, "900", r.header.Get("Retry-After"))
	require.Contains(t, r.body, "Too many failed sign-ins")
	// Another name from the same address is not held up by this one's
	// failures, up to the address's own limit.
	require.Equal(t, http.StatusSeeOther, b.anonymous().login("sales", password).status)
	for i := range 15 {
		require.Equal(t, http.StatusUnauthorized, u.login(fmt.Sprint("guess", i%3), "wrong").status)
	}
	require.Equal(t, http.StatusTooManyRequests, b.anonymous().login("admin", password).status, "20 failures from one address hold every name")
	b.clock.Add(15*time.Minute + time.Second)
	require.Equal(t, http.StatusSeeOther, b.anonymous().login("marketer", password).status, "the window passed")
}

// The header is believed from the proxy's addresses only: here the
// tests' connections come from 127.0.0.1, which is not the proxy.
func TestProxyHeaderFromElsewhereIsIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t, options{proxyHeader: "X-Forwarded-User", proxyTrusted: "10.0.0.0/8"})
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.http.URL+"/console/funnel", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-User", "admin")
	r := b.anonymous().do(req)
	require.Equal(t, http.StatusSeeOther, r.status)
	require.Contains(t, r.header.Get("Location"), "/console/login")
	_, err = console.New(console.Options{Intake: b.in, LinkKeys: []links.Key{{ID: "1", Secret: []byte(linkSecret)}}, ProxyHeader: "X-User"})
	require.ErrorContains(t, err, "needs the proxy's addresses")
}

// Sign-ins sent at once get no more tries than sign-ins one after another.
func TestSignInBurstIsLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	statuses := make(chan int, 30)
	var wg sync.WaitGroup
	for range 30 {
		u := b.anonymous()
		page := u.get("/console/login")
		token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page.body)[1]
		wg.Go(func() {
			statuses <- u.postRaw("/console/login", url.Values{"name": {"marketer"}, "password": {"wrong"}, "token": {token}}).status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	require.Equal(t, map[int]int{http.StatusUnauthorized: 5, http.StatusTooManyRequests: 25}, count)
}

func TestRolesAreEnforced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada"}, "b2b-nurture")
	sales, marketer := b.as("sales"), b.as("marketer")
	for _, path := range marketingPages {
		r := sales.get(path)
		require.Equal(t, http.StatusForbidden, r.status, path)
		require.Contains(t, r.body, "Your role (sales) may not see journeys", path)
	}
	for _, path := range append(operateActions, "/console/leads/"+p.ID+"/remove") {
		r := sales.post(path, url.Values{"reason": {"because"}})
		require.Equal(t, http.StatusForbidden, r.status, path)
		require.Contains(t, r.body, "may not pause journeys, remove leads or run checks", path)
	}
	for _, a := range salesActions {
		r := marketer.post("/console/leads/"+p.ID+"/"+a, url.Values{"verdict": {"accepted"}, "outcome": {"reached"}})
		require.Equal(t, http.StatusForbidden, r.status, a)
		require.Contains(t, r.body, "Your role (marketer) may not give sales&#39; verdicts", a)
	}
	_, paused, err := store.JourneyPaused(b.ctx, b.db, "b2b-nurture")
	require.NoError(t, err)
	require.False(t, paused, "sales could not pause it")
	st, err := workflows.QueryLead(b.ctx, b.client, p.ID)
	require.NoError(t, err)
	require.EqualValues(t, workflows.LifecycleNurturing, st.Lifecycle, "sales could not remove it")
	// The pages show no control a role may not use.
	r := sales.get("/console/leads/" + p.ID)
	require.Equal(t, http.StatusOK, r.status)
	require.NotContains(t, r.body, "/remove")
	require.NotContains(t, r.body, `href="/console/funnel"`)

	// A form without the session's token is refused, and so is one with
	// another session's.
	admin := b.as("admin")
	r = admin.post("/console/journeys/b2b-nurture/pause", url.Values{"reason": {"x"}, "csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, r.body, "security token")
	r = admin.post("/console/journeys/b2b-nurture/pause", url.Values{"reason": {"x"}, "csrf": {marketer.csrf}})
	require.Equal(t, http.StatusForbidden, r.status)
	_, paused, err = store.JourneyPaused(b.ctx, b.db, "b2b-nurture")
	require.NoError(t, err)
	require.False(t, paused)
}

func TestProxySignIn(t *testing.T) {
	t.Parallel()
	b := setup(t, options{proxyHeader: "X-Forwarded-User", proxyTrusted: "127.0.0.1, ::1"})
	u := b.anonymous()
	get := func(user, path string) response {
		req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.http.URL+path, nil)
		require.NoError(t, err)
		if user != "" {
			req.Header.Set("X-Forwarded-User", user)
		}
		return u.do(req)
	}
	// Two values (a proxy that appends to the client's header): neither
	// is believed.
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.http.URL+"/console/inbox", nil)
	require.NoError(t, err)
	req.Header.Add("X-Forwarded-User", "admin")
	req.Header.Add("X-Forwarded-User", "sso")
	require.Equal(t, http.StatusSeeOther, b.anonymous().do(req).status)
	require.Equal(t, http.StatusSeeOther, get("", "/console/inbox").status, "no user named: sign in")
	require.Equal(t, http.StatusSeeOther, get("stranger", "/console/inbox").status, "a user without an account")
	r := get("sso", "/console/inbox")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "sso · sales")
	require.Equal(t, http.StatusForbidden, get("sso", "/console/funnel").status, "the account's role applies")
	// The session follows the proxy's user: another user through the same
	// browser is that user.
	r = get("marketer", "/console/funnel")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "marketer · marketer")
	// Passwords are not taken.
	r = u.postRaw("/console/login", url.Values{"name": {"marketer"}, "password": {password}})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, r.body, "single sign-on")
}

func TestPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.handOff(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO",
		Fields: map[string]string{"bant_budget": "approved", "bant_timeline": "this quarter"}})
	grace := b.enroll(lead.Profile{Email: "grace@cobol.test", FirstName: "Grace", Company: "Cobol Systems"}, "b2b-nurture")
	_, err := b.in.Record(b.ctx, lead.Event{ID: "g1", LeadID: grace.ID, Type: lead.EventType("page_view"), OccurredAt: start,
		Properties: map[string]string{"url": "https://acme.test/pricing"}})
	require.NoError(t, err)
	require.NoError(t, store.Suppress(b.ctx, b.db, "gone@away.test", "unsubscribe"))
	m := b.as("marketer")

	r := m.get("/console/journeys")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "B2B")
	require.Contains(t, r.body, `href="/console/journeys/calls"`)

	r = m.get("/console/journeys/b2b-nurture")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `<pre class="mermaid" id="diagram">flowchart TD`)
	require.Contains(t, r.body, `/console/assets/mermaid.min.js`)
	r = m.get("/console/journeys/nope")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.body, `There is no journey &#34;nope&#34;`)

	r = m.get("/console/funnel?journey=b2b-nurture&period=all")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `<svg class="chart"`)
	require.Contains(t, r.body, `<b>2</b> leads`)
	require.Contains(t, r.body, "handed off: 1 (50% of leads)")
	require.Contains(t, r.body, "benchmark-report", "the touchpoint table")
	r = m.get("/console/funnel?journey=b2b-nurture&period=all&refresh=5")
	require.Contains(t, r.body, `<meta http-equiv="refresh" content="5">`)
	for _, bad := range []string{"period=forever", "journey=nope", "version=x", "refresh=1", "refresh=soon"} {
		r = m.get("/console/funnel?" + bad)
		require.GreaterOrEqual(t, r.status, 400, bad)
		require.Less(t, r.status, 500, bad)
	}

	r = m.get("/console/leads?q=ANALYTICAL")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "Ada Lovelace")
	require.NotContains(t, r.body, "grace@cobol.test")
	r = m.get("/console/leads?lifecycle=handed_off")
	require.Contains(t, r.body, "Ada Lovelace")
	require.NotContains(t, r.body, "grace@cobol.test")
	r = m.get("/console/leads?q=" + strings.Repeat("x", 201))
	require.Equal(t, http.StatusBadRequest, r.status)
	r = m.get("/console/leads?after=garbage")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, "follow the Next link")

	r = m.get("/console/leads/" + grace.ID)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "live from its journey")
	require.Contains(t, r.body, `id="breakdown"`)
	require.Contains(t, r.body, "Why not handed off yet")
	require.Contains(t, r.body, "✗ score")
	require.Contains(t, r.body, "page_view")
	require.Contains(t, r.body, "https://acme.test/pricing")
	r = m.get("/console/leads/nobody")
	require.Equal(t, http.StatusNotFound, r.status)

	s := b.as("sales")
	r = s.get("/console/inbox")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "Ada Lovelace")
	require.Contains(t, r.body, "<dt>budget</dt><dd>approved</dd>")
	require.Contains(t, r.body, "demo_request")
	require.Contains(t, r.body, `id="accept-`+ada.ID+`"`)
	require.NotContains(t, r.body, "Grace")

	hs, err := store.ListHandoffs(b.ctx, b.db, ada.ID)
	require.NoError(t, err)
	require.NoError(t, store.RecordCRMAttempt(b.ctx, b.db, hs[0].ID, "https://crm.acme.test/hooks", 503, "the CRM answered 503 Service Unavailable: maintenance"))
	r = m.get("/console/attention")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "the CRM answered 503 Service Unavailable: maintenance")
	require.Contains(t, r.body, "gone@away.test")
	require.Contains(t, r.body, `id="no-ambiguous"`)
}

func TestVerdictFromTheInbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.handOff(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Company: "Analytical Engines"})
	s := b.as("sales")
	hs, err := store.ListHandoffs(b.ctx, b.db, ada.ID)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	form := url.Values{"verdict": {"accepted"}, "handoff": {fmt.Sprint(hs[0].ID)}, "reason": {"budget approved"}}

	bad := s.post("/console/leads/"+ada.ID+"/verdict", url.Values{"verdict": {"maybe"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	r := s.post("/console/leads/"+ada.ID+"/verdict", form)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, fmt.Sprintf("Hand-off #%d: accepted. The lead is now sql.", hs[0].ID))
	b.eventually("sql in PostgreSQL", func() bool {
		l, err := store.GetLead(b.ctx, b.db, ada.ID)
		return err == nil && l.Lifecycle == string(workflows.LifecycleSQL)
	})
	hs, err = store.ListHandoffs(b.ctx, b.db, ada.ID)
	require.NoError(t, err)
	require.EqualValues(t, "accepted", hs[0].Verdict)
	var owner string
	require.NoError(t, b.db.QueryRow(b.ctx, `select verdict_reason from handoffs where id = $1`, hs[0].ID).Scan(&owner))
	require.Equal(t, "budget approved", owner)

	// Again: the journey has ended on the first answer, and says so.
	b.eventually("the journey closed", func() bool {
		d, err := b.client.DescribeWorkflowExecution(b.ctx, workflows.WorkflowID(ada.ID), "")
		return err == nil && d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	r = s.post("/console/leads/"+ada.ID+"/verdict", form)
	require.Equal(t, http.StatusConflict, r.status)
	require.Contains(t, r.body, "was answered already: accepted")
	r = s.get("/console/inbox")
	require.Contains(t, r.body, "Nothing is waiting for a verdict")
}

func TestTaskOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.enroll(lead.Profile{Email: "linus@kernel.test", FirstName: "Linus"}, "calls")
	b.eventually("the task given", func() bool {
		_, err := store.OpenTask(b.ctx, b.db, p.ID)
		return err == nil
	})
	task, err := store.OpenTask(b.ctx, b.db, p.ID)
	require.NoError(t, err)
	s := b.as("sales")
	r := s.get("/console/inbox")
	require.Contains(t, r.body, "Call Linus")
	r = s.get("/console/leads/" + p.ID)
	require.Contains(t, r.body, fmt.Sprintf("Open task #%d: Call Linus", task.ID))
	r = s.post("/console/leads/"+p.ID+"/task", url.Values{"task": {fmt.Sprint(task.ID)}, "outcome": {"promoted"}})
	require.Equal(t, http.StatusConflict, r.status, "not one of the task's outcomes: %s", r.body)
	r = s.post("/console/leads/"+p.ID+"/task", url.Values{"task": {fmt.Sprint(task.ID)}, "outcome": {"reached"}, "note": {"keen"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, `The lead goes on to step &#34;good&#34;`)
	b.eventually("the thanks email", func() bool {
		for _, m := range b.sink.To(p.Email) {
			if m.Subject == "Thanks Linus" {
				return true
			}
		}
		return false
	})
}

func TestPauseResumeAndRemove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.enroll(lead.Profile{Email: "alan@bletchley.test", FirstName: "Alan"}, "b2b-nurture")
	m := b.as("marketer")
	r := m.post("/console/journeys/b2b-nurture/pause", url.Values{"reason": {""}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	r = m.post("/console/journeys/nope/pause", url.Values{"reason": {"x"}})
	require.Equal(t, http.StatusNotFound, r.status)
	r = m.post("/console/journeys/b2b-nurture/pause", url.Values{"reason": {"copy review"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	pause, paused, err := store.JourneyPaused(b.ctx, b.db, "b2b-nurture")
	require.NoError(t, err)
	require.True(t, paused)
	require.Equal(t, "copy review (marketer)", pause.Reason)
	r = m.get("/console/journeys/b2b-nurture")
	require.Contains(t, r.body, "paused since")
	r = m.post("/console/journeys/b2b-nurture/resume", nil)
	require.Equal(t, http.StatusOK, r.status)
	_, paused, err = store.JourneyPaused(b.ctx, b.db, "b2b-nurture")
	require.NoError(t, err)
	require.False(t, paused)

	r = m.post("/console/leads/"+p.ID+"/remove", url.Values{"reason": {""}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	r = m.post("/console/leads/"+p.ID+"/remove", url.Values{"reason": {"asked us by phone"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, "Removed from b2b-nurture")
	b.eventually("exited in PostgreSQL", func() bool {
		l, err := store.GetLead(b.ctx, b.db, p.ID)
		return err == nil && l.Lifecycle == string(workflows.LifecycleExited) && l.ExitReason == "removed"
	})
	r = m.post("/console/leads/"+p.ID+"/remove", url.Values{"reason": {"again"}})
	require.Equal(t, http.StatusConflict, r.status, r.body)

	r = m.post("/console/attention/check", nil)
	require.Equal(t, http.StatusAccepted, r.status)
	b.eventually("the check done", func() bool {
		return strings.Contains(m.get("/console/attention").body, "Last check finished")
	})
}

func TestAssets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.anonymous()
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.http.URL+"/console/assets/mermaid.min.js", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	r := u.do(req)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "gzip", r.header.Get("Content-Encoding"))
	req.Header.Del("Accept-Encoding")
	// Go's client asks for gzip and unpacks by itself unless told not to.
	req.Header.Set("Accept-Encoding", "identity")
	r = u.do(req)
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.header.Get("Content-Encoding"))
	require.Contains(t, r.body[:2000], "mermaid")
	require.Equal(t, "text/javascript; charset=utf-8", r.header.Get("Content-Type"))
	r = u.get("/console/assets/nope.js")
	require.Equal(t, http.StatusNotFound, r.status)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
