package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

// The demo's leads and sales reach their journeys as the world does, over
// HTTP to the receiver: a click on a link in the lead's latest email, its
// open pixel, the one-click unsubscribe of its List-Unsubscribe header, a
// website's signed event, and sales' button in the hand-off email. Each
// request is printed as it happens.

// engage does one scripted engagement.
func (d *demo) engage(ctx context.Context, out *printer, eventID string, l *demoLead, typ lead.EventType) error {
	switch typ {
	case lead.EmailClick:
		if link, subject, ok := d.latestLink(l.profile.Email, links.ClickPath); ok {
			return d.request(ctx, out, l, http.MethodGet, link, "", nil, http.StatusFound, fmt.Sprintf("clicked a link in %q", subject))
		}
	case lead.EmailOpen:
		if link, subject, ok := d.latestLink(l.profile.Email, links.OpenPath); ok {
			return d.request(ctx, out, l, http.MethodGet, link, "", nil, http.StatusOK, fmt.Sprintf("opened %q (its pixel)", subject))
		}
	case lead.Unsubscribe:
		if msgs := d.sink.To(l.profile.Email); len(msgs) > 0 {
			if h := strings.Trim(msgs[len(msgs)-1].Header.Get("List-Unsubscribe"), "<>"); strings.HasPrefix(h, d.base) {
				return d.request(ctx, out, l, http.MethodPost, h, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"),
					http.StatusOK, "one-click unsubscribe from the email's List-Unsubscribe header")
			}
		}
	}
	// Anything else a website (or an email provider) reports, signed.
	body, err := json.Marshal(webhook.EventIn{ID: eventID, Type: string(typ), Email: l.profile.Email, Source: "demo website"})
	if err != nil {
		return err
	}
	return d.request(ctx, out, l, http.MethodPost, d.base+"/v1/events", "application/json", body, http.StatusAccepted,
		string(typ)+" ("+typ.Describe()+")")
}

// latestLink finds a link to the receiver under path in the newest email
// to the address that has one.
func (d *demo) latestLink(addr, path string) (link, subject string, ok bool) {
	re := regexp.MustCompile(regexp.QuoteMeta(d.base+path) + `[A-Za-z0-9._\-]+`)
	msgs := d.sink.To(addr)
	for i := len(msgs) - 1; i >= 0; i-- {
		text, html, err := msgs[i].Bodies()
		if err != nil {
			continue
		}
		if m := re.FindString(html + "\n" + text); m != "" {
			return m, msgs[i].Subject, true
		}
	}
	return "", "", false
}

// request sends one request, signed when it goes to a machine endpoint,
// prints it, and fails the demo on an answer other than want.
func (d *demo) request(ctx context.Context, out *printer, l *demoLead, method, target, contentType string, body []byte, want int, what string) error {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasPrefix(req.URL.Path, "/v1/") {
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(d.secret, time.Now(), body))
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, shortPath(req.URL), err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	out.line(d.day(), "HTTP", l.profile.Email, fmt.Sprintf("%s %s %d: %s", method, shortPath(req.URL), resp.StatusCode, what))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s answered %d, not %d: %s", method, shortPath(req.URL), resp.StatusCode, want, answer)
	}
	return nil
}

// shortPath is a request's path with its token cut short, for the output.
func shortPath(u *url.URL) string {
	p := u.Path
	for _, prefix := range []string{links.ClickPath, links.OpenPath, links.UnsubscribePath, links.VerdictPath} {
		if strings.HasPrefix(p, prefix) {
			return prefix + "…"
		}
	}
	return p
}

// verdictByEmail answers a lead's hand-off the way a rep does: the button
// for the verdict in the hand-off email sales received, then its reason on
// the page that button opens.
func (d *demo) verdictByEmail(ctx context.Context, out *printer, l *demoLead, handoffID int64) error {
	var link string
	for _, m := range d.sink.To(d.salesEmail) {
		if m.Header.Get("X-Nurture-Handoff") != fmt.Sprint(handoffID) {
			continue
		}
		text, _, err := m.Bodies()
		if err != nil {
			return err
		}
		for _, u := range regexp.MustCompile(regexp.QuoteMeta(d.base+links.VerdictPath)+`[A-Za-z0-9._\-]+`).FindAllString(text, -1) {
			c, err := d.signer.Parse(links.Verdict, strings.TrimPrefix(u, d.base+links.VerdictPath))
			if err == nil && workflows.Verdict(c.Verdict) == l.verdict {
				link = u
			}
		}
	}
	if link == "" {
		// The notice has not arrived (or was not sent): answer as the
		// CRM would, signed.
		body, err := json.Marshal(webhook.VerdictIn{LeadID: l.profile.ID, Verdict: string(l.verdict), Reason: l.reason, Owner: "demo"})
		if err != nil {
			return err
		}
		return d.request(ctx, out, l, http.MethodPost, d.base+"/v1/verdicts", "application/json", body, http.StatusOK,
			fmt.Sprintf("the CRM says %s: %s", l.verdict, l.reason))
	}
	form := url.Values{"reason": {l.reason}}.Encode()
	return d.request(ctx, out, l, http.MethodPost, link, "application/x-www-form-urlencoded", []byte(form), http.StatusOK,
		fmt.Sprintf("sales pressed %q in the hand-off email: %s", verdictLabel(l.verdict), l.reason))
}

func verdictLabel(v workflows.Verdict) string {
	switch v {
	case workflows.VerdictAccepted:
		return "Accept"
	case workflows.VerdictRejected:
		return "Reject"
	}
	return "Send back to nurture"
}
