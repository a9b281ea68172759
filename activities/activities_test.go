package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/workflows"
)

type testBundle struct {
	sink    *smtpsink.Sink
	lead    lead.Profile
	journey activities.JourneyRef
	signer  links.Signer
}

func setup(t *testing.T) (*activities.Activities, *testBundle) {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Pool(t)
	sink, err := smtpsink.Start(smtpsink.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	sender, err := email.New(email.Config{Host: sink.Host(), Port: sink.Port(), TLS: "none", From: "Acme Marketing <marketing@acme.test>"})
	require.NoError(t, err)
	t.Cleanup(sender.Close)

	j, src, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	pub, err := store.PublishJourney(ctx, pool, j, src)
	require.NoError(t, err)
	p := lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))

	signer := links.Signer{Keys: []links.Key{{ID: "t", Secret: []byte("test-secret-0123456789abcdef012345")}}, BaseURL: "https://hooks.acme.test"}
	a := &activities.Activities{DB: pool, Mail: sender, Links: signer, SalesEmail: "sales@acme.test", Log: slog.New(slog.DiscardHandler)}
	return a, &testBundle{sink: sink, lead: p, journey: activities.JourneyRef{ID: j.ID, Version: pub.Version}, signer: signer}
}

func TestSendContentMailsOnceWhenRetried(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	req := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}

	first, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, first.Status)

	// The activity is retried (a worker died after sending, before
	// reporting): same key, concurrently and in sequence.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.SendContent(ctx, req)
			require.NoError(t, err)
			require.Equal(t, activities.SendDuplicate, res.Status)
			require.Equal(t, first.MessageID, res.MessageID)
		}()
	}
	wg.Wait()
	require.Len(t, b.sink.To(b.lead.Email), 1, "a retried send must not mail twice")

	// The next occurrence of the step is a new send.
	req.Key = "lead-x/run-1/send-benchmark/2"
	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	require.Len(t, b.sink.To(b.lead.Email), 2)
}

func TestSendContentAfterAWorkerDiedMidSend(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	req := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}
	// An earlier attempt's worker was killed after it had connected, before
	// the message went out: nothing can have arrived, so it is sent.
	claim := func(key string, status store.SendStatus) {
		_, err := a.DB.Exec(ctx, `insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, status, claim_token)
values ($1, $2, $3, $4, 'send-benchmark', 'benchmark-report', $5, 's', 'm', $6, 'dead')`, key, b.lead.ID, b.journey.ID, b.journey.Version, b.lead.Email, status)
		require.NoError(t, err)
	}
	claim(req.Key, store.SendConnected)
	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	require.Len(t, b.sink.Messages(), 1)

	// One killed after the message's end went out may have delivered it:
	// ambiguous, and not mailed again.
	req.Key = "lead-x/run-1/send-benchmark/2"
	claim(req.Key, store.SendData)
	res, err = a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendAmbiguous, res.Status)
	require.Len(t, b.sink.Messages(), 1, "never mailed twice")
	rows, err := store.ListSends(ctx, a.DB, b.lead.ID, 10, store.SendAmbiguous)
	require.NoError(t, err)
	require.Len(t, rows, 1, "listed for operators")
	require.True(t, rows[0].HasMessage, "with the message, for a resend")
}

// TestContentThatCannotRenderForALeadIsAResultNotAFailure is defect 5 of
// issue 7: a template that fails for one lead's data failed the workflow.
func TestContentThatCannotRenderForALeadIsAResultNotAFailure(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	// Published past validation, as by an older release that checked less.
	for i := range j.Content {
		if j.Content[i].ID == "benchmark-report" {
			j.Content[i].Subject = "{{slice .FirstName 0 3}}, the benchmark"
		}
	}
	j.ID = "fragile"
	pub, err := store.PublishJourney(ctx, a.DB, j, []byte("fragile"))
	require.NoError(t, err)
	al := lead.Profile{Email: "al@short.test", FirstName: "Al"}
	require.NoError(t, al.Normalize())
	require.NoError(t, store.UpsertLead(ctx, a.DB, al))
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/al", Lead: al, Journey: activities.JourneyRef{ID: "fragile", Version: pub.Version}, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)
	require.Equal(t, activities.SendContentError, res.Status)
	require.Contains(t, res.Reason, "slice")
	require.Empty(t, b.sink.Messages())
	n, err := store.CountSendsByStatus(ctx, a.DB, al.ID)
	require.NoError(t, err)
	require.Empty(t, n, "nothing claimed")
}

func TestSendContentRetriesAfterAnSMTPOutage(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	down, err := email.New(email.Config{Host: "127.0.0.1", Port: 1, TLS: "none", From: "m@acme.test", Timeout: time.Second})
	require.NoError(t, err)
	outage := &activities.Activities{DB: a.DB, Mail: down, Links: a.Links, Log: a.Log}
	req := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}
	_, err = outage.SendContent(ctx, req)
	require.Error(t, err, "the activity fails, so Temporal retries it")

	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	require.Len(t, b.sink.Messages(), 1)
}

func TestSentMailHasTheHeadersReceiversNeed(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/1", Lead: b.lead, Journey: b.journey, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)

	msgs := b.sink.To(b.lead.Email)
	require.Len(t, msgs, 1)
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Raw))
	require.NoError(t, err)
	require.Equal(t, res.MessageID, m.Header.Get("Message-ID"))
	require.Equal(t, email.MessageID("k/1", "acme.test"), res.MessageID, "the Message-ID is derived from the send key")
	require.Equal(t, "List-Unsubscribe=One-Click", m.Header.Get("List-Unsubscribe-Post"))
	unsub := m.Header.Get("List-Unsubscribe")
	require.True(t, strings.HasPrefix(unsub, "<https://hooks.acme.test/unsubscribe/"), unsub)
	token := strings.TrimSuffix(strings.TrimPrefix(unsub, "<https://hooks.acme.test/unsubscribe/"), ">")
	claims, err := b.signer.Parse(links.Unsubscribe, token)
	require.NoError(t, err)
	require.Equal(t, b.lead.ID, claims.LeadID)
	require.Equal(t, "Ada, the 2026 B2B pipeline benchmark is here", msgs[0].Subject)
	require.Equal(t, "benchmark-report", m.Header.Get("X-Nurture-Content"))

	// HTML and plain text, as alternatives.
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	parts := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[ct] = string(body)
	}
	require.Contains(t, parts, "text/plain")
	require.Contains(t, parts, "text/html")
	require.Contains(t, parts["text/html"], "Analytical Engines")
}

func TestSendContentChecksSuppressionAtSendTime(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	require.NoError(t, store.Suppress(ctx, a.DB, b.lead.Email, "unsubscribe"))
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/1", Lead: b.lead, Journey: b.journey, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)
	require.Equal(t, activities.SendSuppressed, res.Status)
	require.Equal(t, "unsubscribe", res.Reason)
	require.Empty(t, b.sink.Messages())
}

func TestHandOffIsRecordedOnceAndMailsSales(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	score := scoring.Score{Fit: 15, Interest: 45, Intent: 40, FitGrade: "B", EngagementGrade: "1", Breakdown: []scoring.Line{
		{Rule: "event:demo_request", Axis: scoring.Intent, Count: 1, Points: 40, Decayed: 40},
		{Rule: "event:webinar_signup", Axis: scoring.Interest, Count: 1, Points: 20, Decayed: 10},
		{Rule: "fit:senior title", Axis: scoring.Fit, Count: 1, Points: 15, Decayed: 15},
	}}
	req := activities.HandOffRequest{Key: "lead-x/run-1/handoff/1", Lead: b.lead, Journey: b.journey, Score: score, Reason: "score 100 reached 90"}
	first, err := a.RecordHandoff(ctx, req)
	require.NoError(t, err)
	again, err := a.RecordHandoff(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	for range 2 {
		res, err := a.NotifySales(ctx, activities.NoticeRequest{Handoff: req, HandoffID: first.ID})
		require.NoError(t, err)
		require.Contains(t, []string{"sent", "duplicate"}, res.Status)
	}
	// Workflows from before the notice went apart call both at once.
	old, err := a.HandOff(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first.ID, old.ID)

	hs, err := store.ListHandoffs(ctx, a.DB, b.lead.ID)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, 100, hs[0].Total)
	notices := b.sink.To("sales@acme.test")
	require.Len(t, notices, 1)
	header, parts := readParts(t, notices[0].Raw)
	body := parts["text/plain"]
	require.Contains(t, body, "event:demo_request")
	require.Contains(t, body, "Score 100 = fit 15 + interest 45 + intent 40 + adjusted 0 (grade B1)", "the parts add up to the score")
	require.Regexp(t, `event:webinar_signup\s+x1\s+\+20\s+\+10`, body, "points given and worth now")
	require.Empty(t, header.Get("List-Unsubscribe"), "sales is not a lead: no unsubscribe")
	require.Empty(t, header.Get("List-Unsubscribe-Post"))
	require.Empty(t, header.Get("X-SMTPAPI"), "no provider configured")

	// Three signed verdict links, in the text and as buttons in the HTML.
	want := workflows.Verdicts()
	textLinks := regexp.MustCompile(`(Accept|Reject|Send back to nurture): +(https://\S+)`).FindAllStringSubmatch(body, -1)
	require.Len(t, textLinks, 3, body)
	buttons := hrefs(t, parts["text/html"])
	require.Len(t, buttons, 3, "the HTML notice links to the verdicts and nothing else")
	for i, l := range textLinks {
		require.Equal(t, []string{"Accept", "Reject", "Send back to nurture"}[i], l[1])
		require.Equal(t, l[2], buttons[i].href, "the same link in both parts")
		require.Equal(t, l[1], buttons[i].text)
		claims, err := b.signer.Parse(links.Verdict, strings.TrimPrefix(l[2], "https://hooks.acme.test"+links.VerdictPath))
		require.NoError(t, err)
		require.Equal(t, first.ID, claims.HandoffID)
		require.EqualValues(t, string(want[i]), claims.Verdict)
		require.Equal(t, b.lead.ID, claims.LeadID)
	}
	require.Contains(t, parts["text/html"], "Analytical Engines")
	require.Contains(t, html.UnescapeString(parts["text/html"]), "event:webinar_signup ×1: +20 points, +10 now")

	require.NoError(t, a.RecordVerdict(ctx, activities.VerdictRequest{HandoffID: first.ID, Verdict: "accepted"}))
	hs, err = store.ListHandoffs(ctx, a.DB, b.lead.ID)
	require.NoError(t, err)
	require.EqualValues(t, "accepted", hs[0].Verdict)
}

func TestLoadJourneyPinsTheVersionAndDropsBodies(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	got, err := a.LoadJourney(ctx, b.lead.ID, activities.JourneyRef{ID: b.journey.ID})
	require.NoError(t, err)
	require.Equal(t, b.journey.Version, got.Version)
	for _, c := range got.Journey.Content {
		require.Empty(t, c.HTML+c.Text+c.Subject, "content bodies stay out of workflow history")
	}
	_, err = a.LoadJourney(ctx, b.lead.ID, activities.JourneyRef{ID: "missing"})
	require.ErrorContains(t, err, "publish it first")
}

// readParts reads a message and its parts by content type, decoded.
func readParts(t *testing.T, raw []byte) (mail.Header, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	parts := map[string]string{}
	if !strings.HasPrefix(mediaType, "multipart/") {
		var r io.Reader = m.Body
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(m.Body)
		}
		body, err := io.ReadAll(r)
		require.NoError(t, err)
		parts[mediaType] = strings.ReplaceAll(string(body), "\r\n", "\n")
		return m.Header, parts
	}
	// A multipart reader decodes quoted-printable parts itself.
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	return m.Header, parts
}

type anchor struct{ href, text string }

// hrefs are the links of an HTML document as a mail client sees them.
func hrefs(t *testing.T, doc string) []anchor {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	require.NoError(t, err)
	var out []anchor
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "a" {
				for _, at := range c.Attr {
					if at.Key == "href" {
						var text strings.Builder
						for x := c.FirstChild; x != nil; x = x.NextSibling {
							if x.Type == html.TextNode {
								text.WriteString(x.Data)
							}
						}
						out = append(out, anchor{at.Val, strings.TrimSpace(text.String())})
					}
				}
			}
			walk(c)
		}
	}
	walk(root)
	return out
}

// pixel is the src of the open pixel, "" when there is none. It is the
// last thing in the body.
func pixel(t *testing.T, doc string) string {
	t.Helper()
	m := regexp.MustCompile(`<img src="([^"]+)" width="1" height="1" alt="" style="display:none">\s*(</body>\s*</html>\s*)?$`).FindStringSubmatch(doc)
	if m == nil {
		require.NotContains(t, doc, `width="1" height="1"`)
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestSentMailIsTracked(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	a.Track = true
	ctx := context.Background()
	req := activities.SendRequest{Key: "lead-x/run-1/send-comparison/1", Lead: b.lead, Journey: b.journey, StepID: "send-comparison", ContentID: "product-comparison"}
	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)

	msgs := b.sink.To(b.lead.Email)
	require.Len(t, msgs, 1)
	header, parts := readParts(t, msgs[0].Raw)
	unsub := strings.Trim(header.Get("List-Unsubscribe"), "<>")
	require.True(t, strings.HasPrefix(unsub, "https://hooks.acme.test/unsubscribe/"), unsub)

	click := func(u string) links.Claims {
		t.Helper()
		require.True(t, strings.HasPrefix(u, "https://hooks.acme.test"+links.ClickPath), u)
		c, err := b.signer.Parse(links.Click, strings.TrimPrefix(u, "https://hooks.acme.test"+links.ClickPath))
		require.NoError(t, err)
		require.Equal(t, b.lead.ID, c.LeadID)
		require.Equal(t, req.Key, c.SendKey)
		require.Equal(t, "product-comparison", c.ContentID)
		return c
	}

	// HTML: both links go through the click redirect, to where they went;
	// the unsubscribe link is the RFC 8058 one, untouched.
	as := hrefs(t, parts["text/html"])
	require.Len(t, as, 3)
	require.Equal(t, "https://example.com/compare", click(as[0].href).URL)
	require.Equal(t, "https://example.com/demo", click(as[1].href).URL)
	require.Equal(t, anchor{unsub, "Unsubscribe"}, as[2])
	open := pixel(t, parts["text/html"])
	require.True(t, strings.HasPrefix(open, "https://hooks.acme.test"+links.OpenPath), open)
	oc, err := b.signer.Parse(links.Open, strings.TrimPrefix(open, "https://hooks.acme.test"+links.OpenPath))
	require.NoError(t, err)
	require.Equal(t, links.Claims{Purpose: links.Open, LeadID: b.lead.ID, SendKey: req.Key, ContentID: "product-comparison", Expires: oc.Expires}, oc)

	// Text: the same tracked links (one per target in the whole email),
	// the unsubscribe link as it was.
	text := parts["text/plain"]
	urls := regexp.MustCompile(`https?://\S+`).FindAllString(text, -1)
	require.Equal(t, []string{as[0].href, as[1].href, unsub}, urls, text)
	require.NotContains(t, text, "example.com")
	require.NotContains(t, parts["text/html"], "example.com")
}

func TestTrackingOffLeavesTheBodyAsRendered(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	req := activities.SendRequest{Key: "k/1", Lead: b.lead, Journey: b.journey, StepID: "s", ContentID: "product-comparison"}
	_, err := a.SendContent(ctx, req)
	require.NoError(t, err)

	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	item, ok := j.ContentItem("product-comparison")
	require.True(t, ok)
	unsub, err := b.signer.UnsubscribeURL(b.lead.ID)
	require.NoError(t, err)
	want, err := item.Render(journeys.DataFor(b.lead, unsub))
	require.NoError(t, err)

	_, parts := readParts(t, b.sink.To(b.lead.Email)[0].Raw)
	require.Equal(t, want.HTML, parts["text/html"])
	require.Equal(t, want.Text, parts["text/plain"])
	require.Empty(t, pixel(t, parts["text/html"]))
}

func TestProviderHeaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	smtpAPI := func(t *testing.T, raw []byte) (args map[string]string) {
		t.Helper()
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Len(t, m.Header["X-Smtpapi"], 1, "one X-SMTPAPI header")
		var v struct {
			UniqueArgs map[string]string `json:"unique_args"`
		}
		require.NoError(t, json.Unmarshal([]byte(m.Header.Get("X-SMTPAPI")), &v))
		return v.UniqueArgs
	}
	score := scoring.Score{Fit: 10, Intent: 90}

	t.Run("sendgrid", func(t *testing.T) {
		t.Parallel()
		a, b := setup(t)
		a.Provider = "sendgrid"
		a.Track = true
		send := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}
		_, err := a.SendContent(ctx, send)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"nurture_key": send.Key, "nurture_lead": b.lead.ID}, smtpAPI(t, b.sink.To(b.lead.Email)[0].Raw))

		h := activities.HandOffRequest{Key: "lead-x/run-1/handoff/1", Lead: b.lead, Journey: b.journey, Score: score, Reason: "ready"}
		_, err = a.HandOff(ctx, h)
		require.NoError(t, err)
		_, err = a.CreateTask(ctx, activities.TaskRequest{Key: "lead-x/run-1/call/1", Lead: b.lead, Journey: b.journey, StepID: "call", Title: "Call {{.FirstName}}", Outcomes: []string{"reached"}})
		require.NoError(t, err)
		notices := b.sink.To("sales@acme.test")
		require.Len(t, notices, 2)
		// Notices go to sales: they name no lead, so a rep's open is not the lead's.
		require.Equal(t, map[string]string{"nurture_key": h.Key + "/sales-mail", "nurture_lead": ""}, smtpAPI(t, notices[0].Raw))
		require.Equal(t, map[string]string{"nurture_key": "lead-x/run-1/call/1/mail", "nurture_lead": ""}, smtpAPI(t, notices[1].Raw))
		_, parts := readParts(t, notices[0].Raw)
		require.NotContains(t, parts["text/plain"], links.ClickPath, "mail to sales is not tracked")
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		a, b := setup(t)
		_, err := a.SendContent(ctx, activities.SendRequest{Key: "k/1", Lead: b.lead, Journey: b.journey, StepID: "s", ContentID: "benchmark-report"})
		require.NoError(t, err)
		_, err = a.HandOff(ctx, activities.HandOffRequest{Key: "k/h", Lead: b.lead, Journey: b.journey, Score: score, Reason: "ready"})
		require.NoError(t, err)
		require.Len(t, b.sink.Messages(), 2)
		for _, m := range b.sink.Messages() {
			require.NotContains(t, string(m.Raw), "X-SMTPAPI")
		}
	})
}

// TestLinksThatCannotBeTrackedStayAsWritten: a URL the click redirect
// cannot carry (no host, a token over links.MaxToken) goes out as
// written, and the rest of the email is still tracked.
func TestLinksThatCannotBeTrackedStayAsWritten(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	a.Track = true
	ctx := context.Background()
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	long := "https://example.com/" + strings.Repeat("x", links.MaxToken)
	for i := range j.Content {
		if j.Content[i].ID == "benchmark-report" {
			j.Content[i].HTML = `<p><a href="https://example.com/ok">ok</a> <a href="http://">no host</a> <a href="` + long + `">long</a></p>`
			j.Content[i].Text = "ok https://example.com/ok long " + long + "\n"
		}
	}
	j.ID = "odd-links"
	pub, err := store.PublishJourney(ctx, a.DB, j, []byte("odd-links"))
	require.NoError(t, err)
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/odd", Lead: b.lead, Journey: activities.JourneyRef{ID: j.ID, Version: pub.Version}, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	_, parts := readParts(t, b.sink.To(b.lead.Email)[0].Raw)
	as := hrefs(t, parts["text/html"])
	require.Len(t, as, 3)
	require.True(t, strings.HasPrefix(as[0].href, "https://hooks.acme.test/c/"), as[0].href)
	require.Equal(t, "http://", as[1].href)
	require.Equal(t, long, as[2].href)
	require.NotEmpty(t, pixel(t, parts["text/html"]))
	require.Contains(t, parts["text/plain"], "ok https://hooks.acme.test/c/")
	require.Contains(t, parts["text/plain"], " long "+long+"\n")
}

// Hand-offs of a journey with routing go to their owners: a team's
// members in turn, counted in PostgreSQL (a retried record takes no turn),
// a rule's owner, or the fallback; the owner gets the notice.
func TestHandOffsAreRouted(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	src := `id: routed
name: Routed
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 20
  routing:
    rules:
      - {field: country, one_of: [DE, AT], team: dach}
      - {field: employees, range: {min: 1000}, owner: enterprise@acme.test}
    teams:
      dach: [anna@acme.test, ben@acme.test, cem@acme.test]
    fallback: desk@acme.test
content:
  - {id: hello, stage: interest, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: interest
    steps:
      - {id: hello, send: hello}
`
	j, err := journeys.Parse("routed.yaml", []byte(src))
	require.NoError(t, err)
	pub, err := store.PublishJourney(ctx, a.DB, j, []byte(src))
	require.NoError(t, err)
	record := func(i int, fields map[string]string) (int64, string) {
		t.Helper()
		p := lead.Profile{Email: fmt.Sprintf("lead%d@routed.test", i), Fields: fields}
		require.NoError(t, p.Normalize())
		require.NoError(t, store.UpsertLead(ctx, a.DB, p))
		res, err := a.RecordHandoff(ctx, activities.HandOffRequest{Key: fmt.Sprintf("routed-%d", i), Lead: p,
			Journey: activities.JourneyRef{ID: j.ID, Version: pub.Version}, Reason: "ready"})
		require.NoError(t, err)
		hs, err := store.ListHandoffs(ctx, a.DB, p.ID)
		require.NoError(t, err)
		require.Len(t, hs, 1)
		return res.ID, hs[0].SalesEmail
	}
	var owners []string
	for i := range 6 {
		_, owner := record(i, map[string]string{"country": "DE"})
		owners = append(owners, owner)
	}
	require.Equal(t, []string{"anna@acme.test", "ben@acme.test", "cem@acme.test", "anna@acme.test", "ben@acme.test", "cem@acme.test"}, owners)
	// A retried record keeps its owner and takes no turn.
	id, owner := record(0, map[string]string{"country": "DE"})
	require.Equal(t, "anna@acme.test", owner)
	_, owner = record(6, map[string]string{"country": "AT"})
	require.Equal(t, "anna@acme.test", owner, "the retry took no turn")
	_, owner = record(7, map[string]string{"employees": "5000"})
	require.Equal(t, "enterprise@acme.test", owner)
	_, owner = record(8, map[string]string{"country": "FR"})
	require.Equal(t, "desk@acme.test", owner)

	// Workers recording at once share the turns: thirty hand-offs, ten
	// each.
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for i := 100; i < 130; i++ {
		wg.Go(func() {
			_, owner := record(i, map[string]string{"country": "DE"})
			mu.Lock()
			count[owner]++
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Equal(t, map[string]int{"anna@acme.test": 10, "ben@acme.test": 10, "cem@acme.test": 10}, count)

	// The owner gets the notice, not the sales address.
	p := lead.Profile{Email: "lead0@routed.test"}
	require.NoError(t, p.Normalize())
	res, err := a.NotifySales(ctx, activities.NoticeRequest{HandoffID: id, Handoff: activities.HandOffRequest{Key: "routed-0", Lead: p,
		Journey: activities.JourneyRef{ID: j.ID, Version: pub.Version}}})
	require.NoError(t, err)
	require.Equal(t, "sent", res.Status)
	require.Len(t, b.sink.To("anna@acme.test"), 1)
	require.Empty(t, b.sink.To("sales@acme.test"))
}
