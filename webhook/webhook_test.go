package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/tcpproxy"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Title: "CTO", ExternalID: "crm-ada"})

	// By address: stored, delivered, scored.
	r := b.postJSON("/v1/events", webhook.EventIn{ID: "web-1", Type: "case_study_view", Email: "Ada@Analytical.test",
		Time: now.Add(-time.Hour).Format(time.RFC3339), Properties: map[string]string{"page": "/stories/northwind"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	var out webhook.EventOut
	r.json(t, &out)
	require.Equal(t, webhook.EventOut{ID: "web-1", LeadID: ada.ID, New: true, Delivered: true}, out)
	b.eventually("case study scored", func() bool { return b.status(ada.ID).EventsSeen == 1 })

	// A retry: stored once, delivered again, counted once.
	r = b.postJSON("/v1/events", webhook.EventIn{ID: "web-1", Type: "case_study_view", Email: "ada@analytical.test"})
	r.json(t, &out)
	require.False(t, out.New)
	require.True(t, out.Delivered)

	// By CRM ID and by lead ID.
	r = b.postJSON("/v1/events", webhook.EventIn{ID: "crm-7", Type: "pricing_page_view", ExternalID: "crm-ada"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r = b.postJSON("/v1/events", webhook.EventIn{ID: "web-2", Type: "page_view", LeadID: ada.ID})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	b.eventually("three events scored", func() bool { return b.status(ada.ID).EventsSeen == 3 })
	require.Equal(t, 3, b.events(ada.ID))

	// Mistakes, each with its status and words; nothing stored.
	for name, tc := range map[string]struct {
		body   string
		status int
		want   string
	}{
		"malformed":      {`{"id": "x", "type": }`, 400, "malformed JSON at byte 21"},
		"unknown field":  {`{"id": "x", "type": "page_view", "email": "ada@analytical.test", "colour": "red"}`, 400, `unknown field "colour"`},
		"wrong type":     {`{"id": 7, "type": "page_view", "email": "ada@analytical.test"}`, 400, "id: expected a string, got JSON number"},
		"cut short":      {`{"id": "x", "type": "page_view",`, 400, "malformed JSON: the body ends inside a value"},
		"two values":     {`{"id": "x", "type": "page_view", "email": "ada@analytical.test"} {}`, 400, "more than one JSON value"},
		"empty":          {``, 400, "the body is empty"},
		"unknown type":   {`{"id": "x", "type": "pricing_pgae_view", "email": "ada@analytical.test"}`, 422, `event type "pricing_pgae_view" is unknown`},
		"no lead":        {`{"id": "x", "type": "page_view"}`, 422, "name the lead: lead_id, email or external_id"},
		"two leads":      {`{"id": "x", "type": "page_view", "email": "a@b.test", "lead_id": "y"}`, 422, "name the lead one way"},
		"too old":        {`{"id": "x", "type": "page_view", "email": "ada@analytical.test", "time": "2025-10-01T10:00:00Z"}`, 422, "more than 400 days ago"},
		"future":         {`{"id": "x", "type": "page_view", "email": "ada@analytical.test", "time": "2026-11-30T10:00:00Z"}`, 422, "168h0m0s in the future"},
		"bad time":       {`{"id": "x", "type": "page_view", "email": "ada@analytical.test", "time": "yesterday"}`, 422, `time "yesterday": write RFC 3339`},
		"unknown lead":   {`{"id": "x", "type": "page_view", "email": "nobody@analytical.test"}`, 404, "is unknown; enrol it first"},
		"unknown crm id": {`{"id": "x", "type": "page_view", "external_id": "crm-0"}`, 404, `no lead has external_id "crm-0"`},
		"no id":          {`{"type": "page_view", "email": "ada@analytical.test"}`, 422, "event id is required"},
	} {
		r := b.do(http.MethodPost, "/v1/events", "application/json", []byte(tc.body), true)
		require.Equal(t, tc.status, r.status, "%s: %s", name, r.body)
		require.Contains(t, r.errorText(t), tc.want, name)
	}
	r = b.do(http.MethodPost, "/v1/events", "application/json", []byte("{\"id\": \"\xff\"}"), true)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.errorText(t), "not valid UTF-8")
	huge := `{"id": "x", "type": "page_view", "email": "ada@analytical.test", "source": "` + strings.Repeat("x", webhook.DefaultMaxBody) + `"}`
	r = b.do(http.MethodPost, "/v1/events", "application/json", []byte(huge), true)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	require.Contains(t, r.errorText(t), "the body is over 1048576 bytes")
	require.Equal(t, 3, b.events(ada.ID), "nothing more was stored")

	// Late and out of order: an event from a month ago, after newer ones,
	// is taken and scored when it arrives.
	r = b.postJSON("/v1/events", webhook.EventIn{ID: "web-late", Type: "page_view", LeadID: ada.ID, Time: now.AddDate(0, 0, -30).Format(time.RFC3339)})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	b.eventually("the late event scored", func() bool { return b.status(ada.ID).EventsSeen == 4 })

	// A path or a method nothing serves: 404 and 405, said in JSON. (Not
	// in the spec's paths, so asked without its check.)
	for _, tc := range []struct {
		method, path string
		status       int
		want, allow  string
	}{
		{http.MethodPost, "/v1/event", http.StatusNotFound, "no endpoint at this path", ""},
		{http.MethodGet, "/v1/events", http.StatusMethodNotAllowed, "GET is not taken here; use POST", "POST"},
		{http.MethodDelete, "/healthz", http.StatusMethodNotAllowed, "DELETE is not taken here", "GET, HEAD"},
	} {
		req, err := http.NewRequestWithContext(b.ctx, tc.method, b.http.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var p struct{ Error string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, tc.path)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Contains(t, p.Error, tc.want)
		require.Equal(t, tc.allow, resp.Header.Get("Allow"))
	}
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test"})
	body := []byte(`{"id": "sig-1", "type": "page_view", "email": "ada@analytical.test"}`)
	post := func(header string) response {
		req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.http.URL+"/v1/events", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set(webhook.SignatureHeader, header)
		}
		return b.send(req)
	}
	for name, tc := range map[string]struct{ header, want string }{
		"none":        {"", "no Nurture-Signature header"},
		"garbled":     {"v1=zz", "must be t=UNIX-SECONDS,v1=HEX-HMAC"},
		"wrong key":   {webhook.Sign([]byte("some-other-secret-0123456789abcdef"), now, body), "does not match the body"},
		"other body":  {webhook.Sign([]byte(secret), now, []byte("{}")), "does not match the body"},
		"stale":       {webhook.Sign([]byte(secret), now.Add(-6*time.Minute), body), "6m0s from now; at most 5m0s"},
		"from future": {webhook.Sign([]byte(secret), now.Add(6*time.Minute), body), "-6m0s from now"},
	} {
		r := post(tc.header)
		require.Equal(t, http.StatusUnauthorized, r.status, name)
		require.Contains(t, r.errorText(t), tc.want, name)
	}
	require.Zero(t, b.events(ada.ID), "no trace")
	// Either secret of a rotation is accepted.
	require.Equal(t, http.StatusAccepted, post(webhook.Sign([]byte(otherSecret), now, body)).status)
	// The sender's clock may be a little off.
	body = []byte(`{"id": "sig-2", "type": "page_view", "email": "ada@analytical.test"}`)
	require.Equal(t, http.StatusAccepted, post(webhook.Sign([]byte(secret), now.Add(-4*time.Minute), body)).status)
}

func TestBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test"})
	r := b.postJSON("/v1/events/batch", webhook.BatchIn{Events: []webhook.EventIn{
		{ID: "b1", Type: "page_view", Email: "ada@analytical.test"},
		{ID: "b2", Type: "no_such_type", Email: "ada@analytical.test"},
		{ID: "b3", Type: "page_view", Email: "nobody@analytical.test"},
		{ID: "b1", Type: "page_view", Email: "ada@analytical.test"},
	}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var out struct {
		Results []webhook.BatchResult `json:"results"`
	}
	r.json(t, &out)
	require.Len(t, out.Results, 4)
	statuses := []int{out.Results[0].Status, out.Results[1].Status, out.Results[2].Status, out.Results[3].Status}
	require.Equal(t, []int{202, 422, 404, 202}, statuses)
	require.True(t, out.Results[0].New)
	require.False(t, out.Results[3].New, "the repeat counts once")
	require.Contains(t, out.Results[1].Error, `events[1]: event type "no_such_type" is unknown`)
	require.Equal(t, 1, b.events(ada.ID))

	r = b.postJSON("/v1/events/batch", webhook.BatchIn{})
	require.Equal(t, http.StatusBadRequest, r.status)
	many := make([]webhook.EventIn, webhook.MaxBatch+1)
	for i := range many {
		many[i] = webhook.EventIn{ID: fmt.Sprint(i), Type: "page_view", Email: "ada@analytical.test"}
	}
	r = b.postJSON("/v1/events/batch", webhook.BatchIn{Events: many})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.errorText(t), "501 in one batch; at most 500")
}

// TestUnavailableMeansRetry: with Temporal away, an event is stored and
// the answer is 503 with Retry-After; the retry, once Temporal is back,
// delivers it and it counts once.
func TestUnavailableMeansRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test"})
	back := b.temporalAway()
	r := b.postJSON("/v1/events", webhook.EventIn{ID: "outage-1", Type: "demo_request", Email: "ada@analytical.test"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
	require.Equal(t, "30", r.header.Get("Retry-After"))
	require.Contains(t, r.errorText(t), "retry later")
	r = b.do(http.MethodGet, "/readyz", "", nil, false)
	require.Equal(t, http.StatusServiceUnavailable, r.status)

	back()
	r = b.postJSON("/v1/events", webhook.EventIn{ID: "outage-1", Type: "demo_request", Email: "ada@analytical.test"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	b.eventually("delivered once", func() bool { return b.status(ada.ID).EventsSeen == 1 })
	require.Equal(t, 1, b.events(ada.ID))
	r = b.do(http.MethodGet, "/readyz", "", nil, false)
	require.Equal(t, http.StatusOK, r.status)
	r = b.do(http.MethodGet, "/healthz", "", nil, false)
	require.Equal(t, http.StatusOK, r.status)
}

// formJourney takes leads from the "webinar form" at its second stage.
const formJourney = `id: webinars
name: Webinar leads
scoring:
  mql: 20
  events:
    webinar_signup: {points: 20, axis: interest}
handoff:
  min_score: 100
entry:
  - {source: webinar form, stage: later}
content:
  - {id: hello, stage: first, subject: "Hello {{.FirstName}}", text: "Hi. Unsubscribe: {{.UnsubscribeURL}}"}
  - {id: replay, stage: later, subject: "The replay, {{.FirstName}}", text: "Here. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: first
    steps:
      - {id: s1, send: hello}
  - id: later
    steps:
      - {id: s2, send: replay}
      - {id: w, wait: 2w}
`

func TestForms(t *testing.T) {
	t.Parallel()
	b := setup(t, formJourney)
	// An unknown address: the lead is created and enrolled where the
	// form's entry rule says, and the form's event is recorded.
	form := url.Values{"email": {"grace@cobol.test"}, "first_name": {"Grace"}, "company": {"COBOL Inc"},
		"bant_budget": {"approved"}, "event": {"webinar_signup"}, "submission_id": {"s-1"}}
	r := b.do(http.MethodPost, "/v1/forms/webinar%20form", "application/x-www-form-urlencoded", []byte(form.Encode()), true)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var out webhook.FormOut
	r.json(t, &out)
	grace := lead.IDForEmail("grace@cobol.test")
	require.Equal(t, grace, out.LeadID)
	require.Equal(t, "webinars", out.Journey)
	require.True(t, out.Started)
	require.NotNil(t, out.Event)
	require.True(t, out.Event.Delivered)
	b.eventually("the replay email, the later stage's", func() bool {
		msgs := b.sink.To("grace@cobol.test")
		return len(msgs) == 1 && msgs[0].Subject == "The replay, Grace"
	})
	row, err := store.GetLead(b.ctx, b.db, grace)
	require.NoError(t, err)
	require.Equal(t, "approved", row.Profile.Fields["bant_budget"])
	require.Equal(t, "webinar form", row.Profile.Source)

	// The same submission again: the profile merges, the event counts once.
	r = b.postJSON("/v1/forms/webinar%20form", map[string]string{"email": "grace@cobol.test", "title": "CTO", "event": "webinar_signup", "submission_id": "s-1"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r.json(t, &out)
	require.False(t, out.Started)
	require.Equal(t, "already in a journey; profile merged", out.Detail)
	require.False(t, out.Event.New)
	b.eventually("title merged", func() bool {
		row, err := store.GetLead(b.ctx, b.db, grace)
		return err == nil && row.Profile.Title == "CTO" && row.Profile.Company == "COBOL Inc"
	})

	// A form no journey names goes to the default journey.
	r = b.postJSON("/v1/forms/contact", map[string]string{"email": "linus@kernel.test"})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	r.json(t, &out)
	require.Equal(t, "b2b-nurture", out.Journey)

	for name, tc := range map[string]struct {
		ct, body string
		status   int
		want     string
	}{
		"no email":   {"application/json", `{"first_name": "X"}`, 422, "email is required"},
		"bad email":  {"application/json", `{"email": "not-an-address"}`, 422, `lead e-mail "not-an-address" is not a valid address`},
		"not text":   {"application/json", `{"email": "x@y.test", "employees": 250}`, 400, "expected a string"},
		"repeated":   {"application/x-www-form-urlencoded", "email=a%40b.test&email=c%40d.test", 400, `field "email" is sent 2 times`},
		"media type": {"text/plain", "email=a@b.test", 415, `Content-Type "text/plain"`},
		"bad event":  {"application/json", `{"email": "x@y.test", "event": "clicked"}`, 422, `event type "clicked" is unknown`},
		"not UTF-8":  {"application/json", "{\"email\": \"x@y.test\", \"title\": \"\xff\"}", 400, "not valid UTF-8"},
		"form UTF-8": {"application/x-www-form-urlencoded", "email=x%40y.test&title=%ff", 400, `field "title" is not valid UTF-8`},
	} {
		r := b.do(http.MethodPost, "/v1/forms/contact", tc.ct, []byte(tc.body), true)
		require.Equal(t, tc.status, r.status, "%s: %s", name, r.body)
		require.Contains(t, r.errorText(t), tc.want, name)
	}
	// Unsigned or wrongly signed: 401.
	r = b.do(http.MethodPost, "/v1/forms/contact", "application/json", []byte(`{"email": "z@y.test"}`), false)
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
	// No refused submission left anything behind: no lead, no mail.
	for _, addr := range []string{"x@y.test", "a@b.test", "z@y.test"} {
		_, err := store.FindLead(b.ctx, b.db, store.LeadRef{Email: addr})
		require.ErrorIs(t, err, store.ErrNotFound, "a refused form left lead %s behind", addr)
		require.Empty(t, b.sink.To(addr), "a refused form mailed %s", addr)
	}
}

func TestCRMVerdicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Title: "CTO", ExternalID: "crm-ada"})
	r := b.postJSON("/v1/verdicts", webhook.VerdictIn{ExternalID: "crm-ada", Verdict: "accepted"})
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Contains(t, r.errorText(t), "has no open hand-off: it is nurturing")

	for i, typ := range []string{"demo_request", "contact_form", "webinar_signup"} {
		r := b.postJSON("/v1/events", webhook.EventIn{ID: fmt.Sprint("h", i), Type: typ, LeadID: ada.ID})
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	b.eventually("handed off", func() bool { return b.status(ada.ID).Lifecycle == workflows.LifecycleHandedOff })
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{ExternalID: "crm-ada", Verdict: "accepted", Reason: "meeting booked", Owner: "jo@acme.test"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var res workflows.VerdictResult
	r.json(t, &res)
	require.EqualValues(t, workflows.LifecycleSQL, res.Lifecycle)
	hs, err := store.ListHandoffs(b.ctx, b.db, ada.ID)
	require.NoError(t, err)
	require.EqualValues(t, "accepted", hs[0].Verdict)

	// The journey ended on that verdict: a second one is refused with the
	// answer already given, a hand-off of another lead named as such, and
	// a lead nurture does not know is 404. (The verdict is answered just
	// before the run closes; a verdict in between is refused by the
	// journey itself, in its own words.)
	b.eventually("the journey's run closed", func() bool {
		d, err := b.client.DescribeWorkflowExecution(b.ctx, workflows.WorkflowID(ada.ID), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{Email: "ada@analytical.test", Verdict: "rejected"})
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Equal(t, fmt.Sprintf("hand-off #%d was answered already: accepted (the lead is sql)", hs[0].ID), r.errorText(t))
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{Email: "ada@analytical.test", Verdict: "rejected", HandoffID: hs[0].ID + 1000})
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Equal(t, fmt.Sprintf("hand-off #%d is not one of this lead's", hs[0].ID+1000), r.errorText(t))
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{Email: "nobody@analytical.test", Verdict: "accepted"})
	require.Equal(t, http.StatusNotFound, r.status, string(r.body))
	require.Equal(t, "lead "+lead.IDForEmail("nobody@analytical.test")+" is unknown", r.errorText(t))
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{Email: "ada@analytical.test", Verdict: "maybe"})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.Contains(t, r.errorText(t), `verdict "maybe": use accepted, rejected or recycle`)
}

func TestLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada"})

	// A click: recorded, and redirected where the token says, only there.
	click, err := b.signer.ClickURL(ada.ID, "lead-x/run/send/1", "benchmark-report", "https://acme.test/report?x=1&y=2")
	require.NoError(t, err)
	r := b.do(http.MethodGet, "/c/"+tokenIn(click, links.ClickPath), "", nil, false)
	require.Equal(t, http.StatusFound, r.status)
	require.Equal(t, "https://acme.test/report?x=1&y=2", r.header.Get("Location"))
	b.eventually("click scored", func() bool { return b.status(ada.ID).EventsSeen == 1 })
	var typ string
	var props map[string]string
	require.NoError(t, b.db.QueryRow(b.ctx, `select type, properties from events where lead_id = $1`, ada.ID).Scan(&typ, &props))
	require.Equal(t, "email_click", typ)
	require.Equal(t, map[string]string{"content": "benchmark-report", "url": "https://acme.test/report?x=1&y=2"}, props, "the click names its content and URL")
	r = b.do(http.MethodGet, "/c/"+tokenIn(click, links.ClickPath), "", nil, false)
	require.Equal(t, http.StatusFound, r.status, "a second click redirects too")
	tampered := strings.Replace(tokenIn(click, links.ClickPath), "v1.k1.", "v1.k1.e", 1)
	r = b.do(http.MethodGet, "/c/"+tampered, "", nil, false)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Empty(t, r.header.Get("Location"), "an invalid token is never an open redirect")

	// The open pixel.
	open, err := b.signer.OpenURL(ada.ID, "lead-x/run/send/1", "benchmark-report")
	require.NoError(t, err)
	r = b.do(http.MethodGet, "/o/"+tokenIn(open, links.OpenPath), "", nil, false)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "image/gif", r.header.Get("Content-Type"))
	b.eventually("open scored", func() bool { return b.status(ada.ID).EventsSeen == 2 })

	// Unsubscribe: the page changes nothing; the one-click POST suppresses.
	unsub, err := b.signer.UnsubscribeURL(ada.ID)
	require.NoError(t, err)
	path := "/unsubscribe/" + tokenIn(unsub, links.UnsubscribePath)
	r = b.do(http.MethodGet, path, "", nil, false)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), "a***@analytical.test")
	_, suppressed, err := store.IsSuppressed(b.ctx, b.db, ada.Email)
	require.NoError(t, err)
	require.False(t, suppressed, "opening the page is not unsubscribing")
	r = b.do(http.MethodPost, path, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"), false)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), "You are unsubscribed")
	_, suppressed, err = store.IsSuppressed(b.ctx, b.db, ada.Email)
	require.NoError(t, err)
	require.True(t, suppressed)
	// Again, as multipart/form-data, which RFC 8058 asks mail clients to
	// send: idempotent.
	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	require.NoError(t, mw.WriteField("List-Unsubscribe", "One-Click"))
	require.NoError(t, mw.Close())
	r = b.do(http.MethodPost, path, mw.FormDataContentType(), multi.Bytes(), false)
	require.Equal(t, http.StatusOK, r.status, "idempotent, multipart: %s", r.body)
	require.Contains(t, string(r.body), "You are unsubscribed")
	b.eventually("the journey ended", func() bool { return b.status(ada.ID).ExitReason == "unsubscribe" })
	r = b.do(http.MethodPost, path, "application/x-www-form-urlencoded", []byte("nothing"), false)
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestVerdictLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Company: "Analytical Engines", Title: "CTO"})
	for i, typ := range []string{"demo_request", "contact_form", "webinar_signup"} {
		b.postJSON("/v1/events", webhook.EventIn{ID: fmt.Sprint("h", i), Type: typ, LeadID: ada.ID})
	}
	b.eventually("handed off", func() bool { return b.status(ada.ID).Lifecycle == workflows.LifecycleHandedOff })
	handoff := b.status(ada.ID).HandoffID

	accept, err := b.signer.VerdictURL(ada.ID, handoff, "accepted")
	require.NoError(t, err)
	path := "/verdict/" + tokenIn(accept, links.VerdictPath)
	r := b.do(http.MethodGet, path, "", nil, false)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), "Accept: Ada (Analytical Engines)")
	require.EqualValues(t, workflows.LifecycleHandedOff, b.status(ada.ID).Lifecycle, "opening the link decides nothing")
	r = b.do(http.MethodPost, path, "application/x-www-form-urlencoded", []byte("reason=budget+approved"), false)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Contains(t, string(r.body), "the lead is now sql")
	hs, err := store.ListHandoffs(b.ctx, b.db, ada.ID)
	require.NoError(t, err)
	require.EqualValues(t, "accepted", hs[0].Verdict)

	// The other button, after: the journey's own answer.
	reject, err := b.signer.VerdictURL(ada.ID, handoff, "rejected")
	require.NoError(t, err)
	r = b.do(http.MethodPost, "/verdict/"+tokenIn(reject, links.VerdictPath), "application/x-www-form-urlencoded", nil, false)
	require.Equal(t, http.StatusConflict, r.status)
	require.Contains(t, string(r.body), "was answered already: accepted (the lead is sql)")

	// An expired link says so.
	old := b.signer
	old.Now = func() time.Time { return now.Add(-links.VerdictLife - time.Hour) }
	expired, err := old.VerdictURL(ada.ID, handoff, "accepted")
	require.NoError(t, err)
	r = b.do(http.MethodGet, "/verdict/"+tokenIn(expired, links.VerdictPath), "", nil, false)
	require.Equal(t, http.StatusGone, r.status)
	require.Contains(t, string(r.body), "This link has expired")
}

// TestClickDuringAnOutageIsDeliveredLater: a browser does not retry, so a
// click that cannot reach the journey (Temporal away) still redirects, is
// stored and marked, and `starter reconcile` (Intake.Reconcile) delivers
// it once Temporal is back.
func TestClickDuringAnOutageIsDeliveredLater(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test"})
	back := b.temporalAway()
	click, err := b.signer.ClickURL(ada.ID, "k/1", "benchmark-report", "https://acme.test/report")
	require.NoError(t, err)
	r := b.do(http.MethodGet, "/c/"+tokenIn(click, links.ClickPath), "", nil, false)
	require.Equal(t, http.StatusFound, r.status, "the reader gets where they clicked")
	require.Equal(t, 1, b.events(ada.ID), "stored")

	back()
	repairs, err := b.srv.Intake.Reconcile(b.ctx, 0, false)
	require.NoError(t, err)
	require.Len(t, repairs, 1)
	require.Contains(t, repairs[0].Found, "stored but not delivered")
	require.Equal(t, "delivered", repairs[0].Did)
	b.eventually("the click reached the journey", func() bool { return b.status(ada.ID).EventsSeen == 1 })
	repairs, err = b.srv.Intake.Reconcile(b.ctx, 0, false)
	require.NoError(t, err)
	require.Empty(t, repairs, "once")
}

// TestPostgresAwayMeansRetry cuts the receiver's way to PostgreSQL (a TCP
// proxy; the shared server stays up): events, batches, forms and verdicts
// are answered 503 with Retry-After (a verdict only when it needs
// PostgreSQL) and /readyz says why; a click still takes the reader where
// they clicked. Once PostgreSQL is back, the sender's retry is taken and
// counted once.
func TestPostgresAwayMeansRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test"})

	cfg, err := pgxpool.ParseConfig(storetest.URL())
	require.NoError(t, err)
	proxy, err := tcpproxy.Start(net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	pcfg, err := pgxpool.ParseConfig(storetest.URLFor(t, proxy.Addr, b.schema))
	require.NoError(t, err)
	pcfg.ConnConfig.ConnectTimeout = 2 * time.Second
	proxied, err := pgxpool.NewWithConfig(b.ctx, pcfg)
	require.NoError(t, err)
	t.Cleanup(proxied.Close)
	b.srv.DB, b.srv.Intake.DB = proxied, proxied

	ev := webhook.EventIn{ID: "pg-outage-1", Type: "demo_request", Email: ada.Email}
	r := b.postJSON("/v1/events", ev)
	require.Equal(t, http.StatusAccepted, r.status, "through the proxy: %s", r.body)
	b.eventually("scored", func() bool { return b.status(ada.ID).EventsSeen == 1 })

	proxy.Cut()
	ev.ID = "pg-outage-2"
	r = b.postJSON("/v1/events", ev)
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
	require.Equal(t, "30", r.header.Get("Retry-After"))
	require.Contains(t, r.errorText(t), "retry later")
	r = b.postJSON("/v1/events/batch", webhook.BatchIn{Events: []webhook.EventIn{ev}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Contains(t, string(r.body), `"status":503`)
	r = b.postJSON("/v1/forms/contact", map[string]string{"email": "grace@cobol.test"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
	// A verdict that names the lead by CRM ID needs PostgreSQL to find it;
	// one by lead ID goes to the journey, which answers on its own.
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{ExternalID: "crm-ada", Verdict: "accepted"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
	r = b.postJSON("/v1/verdicts", webhook.VerdictIn{LeadID: ada.ID, Verdict: "accepted"})
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Contains(t, r.errorText(t), "has no open hand-off")
	r = b.do(http.MethodGet, "/readyz", "", nil, false)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Contains(t, string(r.body), `"postgres":"unreachable`)
	click, err := b.signer.ClickURL(ada.ID, "k/1", "benchmark-report", "https://acme.test/report")
	require.NoError(t, err)
	r = b.do(http.MethodGet, "/c/"+tokenIn(click, links.ClickPath), "", nil, false)
	require.Equal(t, http.StatusFound, r.status, "the reader gets where they clicked")
	require.Equal(t, 1, b.events(ada.ID), "nothing stored while PostgreSQL was away")

	require.NoError(t, proxy.Restore())
	r = b.postJSON("/v1/events", ev)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r = b.postJSON("/v1/events", ev)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	b.eventually("the retry scored, once", func() bool { return b.status(ada.ID).EventsSeen == 2 })
	require.Equal(t, 2, b.events(ada.ID))
	r = b.do(http.MethodGet, "/readyz", "", nil, false)
	require.Equal(t, http.StatusOK, r.status)
}
