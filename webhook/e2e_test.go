package webhook_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

// bodies decodes a received message's text and HTML parts.
func bodies(t *testing.T, m smtpsink.Message) (text, html string) {
	t.Helper()
	text, html, err := m.Bodies()
	require.NoError(t, err)
	return text, html
}

// linkIn finds the first link to path on the receiver in a body.
func (b *bundle) linkIn(t *testing.T, body, path string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(b.http.URL+path) + `[A-Za-z0-9._\-]+`)
	link := re.FindString(body)
	require.NotEmpty(t, link, "no %s link in:\n%s", path, body)
	return link
}

// follow requests a link found in an email, as a reader's browser would,
// without following a redirect.
func (b *bundle) follow(t *testing.T, method, link, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(b.ctx, method, link, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return b.send(req)
}

// TestLinksInReceivedEmail goes from the mail the SMTP server received to
// the journey: a tracked link clicked in the first email moves the score
// and ends the wait for engagement; the one-click unsubscribe in another
// lead's List-Unsubscribe header suppresses it at once and ends its
// journey, so its next send never comes; the Accept button in the hand-off
// email answers the hand-off.
func TestLinksInReceivedEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// A click.
	ada := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", Title: "CTO"})
	first := b.sink.To(ada.Email)[0]
	text, html := bodies(t, first)
	click := b.linkIn(t, html, links.ClickPath)
	require.Contains(t, html, b.http.URL+links.OpenPath, "the open pixel")
	require.Contains(t, text, b.http.URL+links.ClickPath, "links in the text part are tracked too")
	before := b.status(ada.ID).Score.Total()
	r := b.follow(t, http.MethodGet, click, "", "")
	require.Equal(t, http.StatusFound, r.status)
	require.NotContains(t, r.header.Get("Location"), b.http.URL, "it goes where the email's link went")
	_, err := b.sink.Wait(b.ctx, func([]smtpsink.Message) bool { return len(b.sink.To(ada.Email)) == 2 })
	require.NoError(t, err, "the click ended the wait for engagement: the next email came")
	st := b.status(ada.ID)
	require.Greater(t, st.Score.Total(), before, "the click moved the score")
	require.Equal(t, "webinar-invite", b.sink.To(ada.Email)[1].Header.Get("X-Nurture-Content"))

	// A one-click unsubscribe, as a mail client sends it from the header.
	grace := b.enroll(lead.Profile{Email: "grace@cobol.test", FirstName: "Grace"})
	header := b.sink.To(grace.Email)[0].Header.Get("List-Unsubscribe")
	require.True(t, strings.HasPrefix(header, "<"+b.http.URL+links.UnsubscribePath), header)
	r = b.follow(t, http.MethodPost, strings.Trim(header, "<>"), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	require.Equal(t, http.StatusOK, r.status)
	_, suppressed, err := store.IsSuppressed(b.ctx, b.db, grace.Email)
	require.NoError(t, err)
	require.True(t, suppressed, "suppressed at once")
	var res workflows.Result
	require.NoError(t, b.client.GetWorkflow(b.ctx, workflows.WorkflowID(grace.ID), "").Get(b.ctx, &res))
	require.EqualValues(t, "unsubscribe", res.ExitReason)
	require.Len(t, b.sink.To(grace.Email), 1, "the journey is over: no next send")

	// The Accept button of a hand-off email.
	for i, typ := range []string{"demo_request", "contact_form", "webinar_signup"} {
		r := b.postJSON("/v1/events", webhook.EventIn{ID: string(rune('a' + i)), Type: typ, LeadID: ada.ID})
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	_, err = b.sink.Wait(b.ctx, func([]smtpsink.Message) bool { return len(b.sink.To("sales@acme.test")) == 1 })
	require.NoError(t, err)
	notice := b.sink.To("sales@acme.test")[0]
	text, html = bodies(t, notice)
	accept := b.linkIn(t, text, links.VerdictPath)
	require.Contains(t, html, accept, "the same buttons in the HTML part")
	r = b.follow(t, http.MethodGet, accept, "", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), "Accept: Ada")
	r = b.follow(t, http.MethodPost, accept, "application/x-www-form-urlencoded", "reason=call+booked")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Contains(t, string(r.body), "the lead is now sql")
	require.NoError(t, b.client.GetWorkflow(b.ctx, workflows.WorkflowID(ada.ID), "").Get(b.ctx, &res))
	require.EqualValues(t, workflows.LifecycleSQL, res.Lifecycle)
	hs, err := store.ListHandoffs(b.ctx, b.db, ada.ID)
	require.NoError(t, err)
	require.EqualValues(t, "accepted", hs[0].Verdict)
}
