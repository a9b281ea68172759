package webhook

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// The links in emails: a tracked click, the open pixel, the one-click
// unsubscribe (RFC 8058) and the verdict buttons of a hand-off email. Each
// carries a signed token (package links); a token that does not verify is
// a 404 and is never followed anywhere.
func (s *Server) routeLinks(mux *http.ServeMux) {
	mux.HandleFunc("GET "+links.ClickPath+"{token}", s.click)
	mux.HandleFunc("GET "+links.OpenPath+"{token}", s.open)
	mux.HandleFunc("GET "+links.UnsubscribePath+"{token}", s.unsubscribePage)
	mux.HandleFunc("POST "+links.UnsubscribePath+"{token}", s.unsubscribe)
	mux.HandleFunc("GET "+links.VerdictPath+"{token}", s.verdictPage)
	mux.HandleFunc("POST "+links.VerdictPath+"{token}", s.verdictPost)
}

// short is a stable short name of a text, for event IDs.
func short(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// click records an email_click and redirects to the link's target. The
// target comes from the signed token only. A click on an expired link
// still goes where the email said, unrecorded; a click nurture cannot
// record now (Temporal away) is stored and delivered later by `starter
// reconcile`; one it cannot even store (PostgreSQL away) is lost, since a
// browser does not retry: the reader still gets where they clicked.
func (s *Server) click(w http.ResponseWriter, r *http.Request) {
	c, err := s.Links.Parse(links.Click, r.PathValue("token"))
	if err != nil && !errors.Is(err, links.ErrExpired) {
		s.page(w, http.StatusNotFound, pageInvalid, nil)
		return
	}
	if err == nil {
		ev := lead.Event{ID: "click:" + short(c.SendKey+"\n"+c.URL), LeadID: c.LeadID, Type: lead.EmailClick, OccurredAt: s.now().UTC(),
			Source: "email", Properties: map[string]string{"url": truncate(c.URL, lead.MaxPropertyValue), "content": c.ContentID}}
		s.track(r.Context(), ev)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, c.URL, http.StatusFound)
}

// gif is a transparent 1×1 GIF.
var gif = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// open records an email_open, once per email, and answers the pixel.
// Mail clients that fetch images for privacy (Apple Mail Privacy
// Protection) open every email; the score model weighs opens low for that.
func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	c, err := s.Links.Parse(links.Open, strings.TrimSuffix(r.PathValue("token"), ".gif"))
	if err != nil && !errors.Is(err, links.ErrExpired) {
		http.NotFound(w, r)
		return
	}
	if err == nil {
		s.track(r.Context(), lead.Event{ID: "open:" + short(c.SendKey), LeadID: c.LeadID, Type: lead.EmailOpen, OccurredAt: s.now().UTC(),
			Source: "email", Properties: map[string]string{"content": c.ContentID}})
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(gif)
}

// track records engagement from a link; failures are logged, not shown to
// the reader (see click).
func (s *Server) track(ctx context.Context, ev lead.Event) {
	if _, err := s.Intake.Record(context.WithoutCancel(ctx), ev); err != nil {
		s.Log.Warn("link engagement not recorded now", "type", ev.Type, "lead", ev.LeadID, "error", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// unsubscribePage is what a reader who opens the unsubscribe link sees: a
// button, not an unsubscribe (link scanners fetch links; only a POST
// unsubscribes).
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	c, err := s.Links.Parse(links.Unsubscribe, r.PathValue("token"))
	if err != nil {
		s.page(w, http.StatusNotFound, pageInvalid, nil)
		return
	}
	l, err := store.GetLead(r.Context(), s.DB, c.LeadID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.page(w, http.StatusOK, pageUnsubscribed, nil) // erased: nothing is sent to it
		return
	case err != nil:
		s.Log.Warn("unsubscribe page unavailable", "error", err)
		s.page(w, http.StatusServiceUnavailable, pageUnavailable, nil)
		return
	}
	s.page(w, http.StatusOK, pageUnsubscribe, map[string]string{"Email": mask(l.Profile.Email)})
}

// unsubscribe is RFC 8058's one-click POST (body List-Unsubscribe=One-Click,
// from a mail client) or the page's button: the address is suppressed at
// once, before the journey has even seen the event, and the journey gets
// it. Both are idempotent.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	c, err := s.Links.Parse(links.Unsubscribe, r.PathValue("token"))
	if err != nil {
		s.page(w, http.StatusNotFound, pageInvalid, nil)
		return
	}
	posted, err := postedForm(w, r, 4096)
	if err != nil || posted.Get("List-Unsubscribe") != "One-Click" {
		s.page(w, http.StatusBadRequest, pageBadUnsubscribe, nil)
		return
	}
	ctx := r.Context()
	l, err := store.GetLead(ctx, s.DB, c.LeadID)
	if errors.Is(err, store.ErrNotFound) {
		s.page(w, http.StatusOK, pageUnsubscribed, nil)
		return
	}
	if err == nil {
		err = store.Suppress(ctx, s.DB, l.Profile.Email, string(lead.Unsubscribe))
	}
	if err == nil {
		_, err = s.Intake.Record(ctx, lead.Event{ID: "unsubscribe:" + short(r.PathValue("token")), LeadID: c.LeadID, Type: lead.Unsubscribe,
			OccurredAt: s.now().UTC(), Source: "email"})
		if err != nil {
			// Suppressed already: no mail goes out. The journey learns of it
			// at its next send at the latest, or from `starter reconcile`.
			s.Log.Warn("unsubscribed; the journey was not told now", "lead", c.LeadID, "error", err)
			err = nil
		}
	}
	if err != nil {
		s.Log.Warn("unsubscribe not taken; asked to retry", "error", err)
		w.Header().Set("Retry-After", "30")
		s.page(w, http.StatusServiceUnavailable, pageUnavailable, nil)
		return
	}
	s.page(w, http.StatusOK, pageUnsubscribed, nil)
}

// mask shows enough of an address for its owner to know it: a***@acme.test.
func mask(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 1 {
		return "your address"
	}
	return email[:1] + "***" + email[at:]
}

// verdictWords names the verdicts on buttons and pages.
var verdictWords = map[workflows.Verdict]string{
	workflows.VerdictAccepted: "Accept",
	workflows.VerdictRejected: "Reject",
	workflows.VerdictRecycle:  "Send back to nurture",
}

// verdictPage shows a hand-off email's button: the lead, the verdict, an
// optional reason, and a button that posts it. Opening the link decides
// nothing (mail scanners open links).
func (s *Server) verdictPage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.verdictClaims(w, r)
	if !ok {
		return
	}
	l, err := store.GetLead(r.Context(), s.DB, c.LeadID)
	if err != nil {
		s.Log.Warn("verdict page unavailable", "error", err)
		s.page(w, http.StatusServiceUnavailable, pageUnavailable, nil)
		return
	}
	s.page(w, http.StatusOK, pageVerdict, map[string]any{"Action": verdictWords[workflows.Verdict(c.Verdict)], "Verdict": c.Verdict,
		"Lead": leadName(l.Profile), "Handoff": c.HandoffID})
}

// verdictPost gives the verdict to the journey (the Update) and shows its
// answer, the refusal too ("this lead was already accepted").
func (s *Server) verdictPost(w http.ResponseWriter, r *http.Request) {
	c, ok := s.verdictClaims(w, r)
	if !ok {
		return
	}
	posted, err := postedForm(w, r, 8192)
	if err != nil {
		s.page(w, http.StatusBadRequest, pageVerdictDone, map[string]any{"Error": "the form could not be read"})
		return
	}
	fb := workflows.SalesFeedback{HandoffID: c.HandoffID, Verdict: workflows.Verdict(c.Verdict), Reason: strings.TrimSpace(posted.Get("reason")), Owner: "email link"}
	if err := fb.Validate(); err != nil {
		s.page(w, http.StatusUnprocessableEntity, pageVerdictDone, map[string]any{"Error": err.Error()})
		return
	}
	res, status, msg := s.verdict(r.Context(), c.LeadID, fb)
	switch status {
	case http.StatusOK:
		s.page(w, http.StatusOK, pageVerdictDone, map[string]any{"Result": res, "Action": verdictWords[workflows.Verdict(c.Verdict)]})
	case http.StatusServiceUnavailable:
		s.Log.Warn("verdict not delivered", "error", msg)
		s.page(w, status, pageUnavailable, nil)
	default:
		s.page(w, status, pageVerdictDone, map[string]any{"Error": msg})
	}
}

func (s *Server) verdictClaims(w http.ResponseWriter, r *http.Request) (links.Claims, bool) {
	c, err := s.Links.Parse(links.Verdict, r.PathValue("token"))
	switch {
	case errors.Is(err, links.ErrExpired):
		s.page(w, http.StatusGone, pageExpired, nil)
		return c, false
	case err != nil || verdictWords[workflows.Verdict(c.Verdict)] == "":
		s.page(w, http.StatusNotFound, pageInvalid, nil)
		return c, false
	}
	return c, true
}

func leadName(p lead.Profile) string {
	name := cmp.Or(p.Name(), p.Email)
	if p.Company != "" {
		name += " (" + p.Company + ")"
	}
	return name
}

// Pages.
const (
	pageInvalid        = "invalid"
	pageExpired        = "expired"
	pageUnavailable    = "unavailable"
	pageUnsubscribe    = "unsubscribe"
	pageUnsubscribed   = "unsubscribed"
	pageBadUnsubscribe = "bad-unsubscribe"
	pageVerdict        = "verdict"
	pageVerdictDone    = "verdict-done"
)

var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>{{.}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font:inherit;padding:.5rem 1.2rem;border:0;border-radius:4px;background:#1e6bd6;color:#fff;cursor:pointer}textarea{width:100%;font:inherit}.no{color:#a33}</style></head><body>{{end}}
{{define "invalid"}}{{template "head" "Link not valid"}}<h1>This link is not valid</h1><p>It may have been cut short when it was copied. Use the link in the email as it is.</p></body></html>{{end}}
{{define "expired"}}{{template "head" "Link expired"}}<h1>This link has expired</h1><p>Answer the hand-off in the CRM, or with <code>starter feedback</code>.</p></body></html>{{end}}
{{define "unavailable"}}{{template "head" "Try again"}}<h1>Please try again in a minute</h1><p>We could not take this just now. Nothing was changed.</p></body></html>{{end}}
{{define "unsubscribe"}}{{template "head" "Unsubscribe"}}<h1>Unsubscribe</h1><p>Stop all emails from us to {{.Email}}?</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form></body></html>{{end}}
{{define "unsubscribed"}}{{template "head" "Unsubscribed"}}<h1>You are unsubscribed</h1><p>You will get no more emails from us.</p></body></html>{{end}}
{{define "bad-unsubscribe"}}{{template "head" "Unsubscribe"}}<h1>Nothing was changed</h1><p>An unsubscribe request must carry List-Unsubscribe=One-Click.</p></body></html>{{end}}
{{define "verdict"}}{{template "head" "Hand-off"}}<h1>{{.Action}}: {{.Lead}}</h1><p>Hand-off #{{.Handoff}}.</p><form method="post"><p><label>Reason (optional)<br><textarea name="reason" rows="3" maxlength="2000"></textarea></label></p><button type="submit">{{.Action}}</button></form></body></html>{{end}}
{{define "verdict-done"}}{{template "head" "Hand-off"}}{{if .Error}}<h1 class="no">Not taken</h1><p>{{.Error}}</p>{{else}}<h1>Done: {{.Action}}</h1><p>Hand-off #{{.Result.HandoffID}}: the lead is now {{.Result.Lifecycle}}{{if eq .Result.Verdict "recycle"}}, back in nurture in {{.Result.JourneyID}} at stage {{.Result.Stage}}{{end}}.</p>{{end}}</body></html>{{end}}
`))

// page writes an HTML page.
func (s *Server) page(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.Log.Error("page did not render", "page", name, "error", err)
	}
}

// postedForm reads the body a page's button or a mail client posts, at
// most limit bytes: URL-encoded, or multipart/form-data, which RFC 8058
// asks mail clients to send for a one-click unsubscribe.
func postedForm(w http.ResponseWriter, r *http.Request, limit int64) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		// Values only: a file part stays within limit, in memory.
		if err := r.ParseMultipartForm(limit); err != nil {
			return nil, err
		}
		return r.PostForm, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}
