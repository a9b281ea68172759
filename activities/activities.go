// Package activities holds every side effect of a lead's journey: loading a
// published journey version, sending content, recording progress and
// hand-offs. They are methods on Activities, which holds the dependencies;
// the workflow refers to them through a nil *Activities so names are typed.
//
// Every activity is safe to retry: sends and hand-offs are keyed by an
// idempotency key the workflow builds from its ID, enrolment, step and
// occurrence, and PostgreSQL holds one row per key.
package activities

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/delivery"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/metrics"
	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/tracking"
	"github.com/nurture-dev/nurture/zones"
)

// Non-retryable error types: retrying cannot fix them.
const (
	ErrTypeTemplate        = "TemplateError"
	ErrTypeJourneyNotFound = "JourneyNotFound"
)

// ErrTypeHeld is a send held back, retried until it may go: its journey is
// paused, its recipient's domain has had its share (DomainLimit), or (a
// retry after the window closed) the send window is shut.
const ErrTypeHeld = "SendHeld"

// queuedLate is how long a send may wait in the send queue before it is
// late enough to check the send window again: the queue's wait is usually
// seconds; past a minute the window may have shut.
const queuedLate = time.Minute

// Activities holds what the side effects need.
type Activities struct {
	DB    store.DB
	Mail  *email.Sender
	Links links.Signer
	// Track sends a journey email's clicks through the click redirect and
	// adds an open pixel (TRACKING=on).
	Track bool
	// Provider is the email provider behind the SMTP server, "" or
	// "sendgrid" (EMAIL_PROVIDER): every message carries the headers that
	// tie the provider's events to its send.
	Provider string
	// SalesEmail receives hand-offs unless the journey names another.
	SalesEmail string
	// CRM receives every hand-off (when it has a URL, or the journey names
	// one).
	CRM CRM
	Log *slog.Logger
	// Metrics counts emails, hand-offs and verdicts; nil counts nothing.
	Metrics *metrics.Metrics
	// DomainLimit caps journey emails per recipient domain and window
	// (SEND_RATE_PER_DOMAIN); the zero value is no cap.
	DomainLimit DomainLimit

	mu       sync.Mutex
	journeys map[journeyKey]journeys.Journey
}

type journeyKey struct {
	id      string
	version int
}

// Register registers every exported method of a as an activity; so a has no
// exported methods that are not activities.
func Register(w worker.Registry, a *Activities) { w.RegisterActivity(a) }

// journey loads a published version, from memory when it was loaded before:
// versions never change, so the cache needs no invalidation.
func (a *Activities) journey(ctx context.Context, id string, version int) (journeys.Journey, int, error) {
	if version > 0 {
		a.mu.Lock()
		j, ok := a.journeys[journeyKey{id, version}]
		a.mu.Unlock()
		if ok {
			return j, version, nil
		}
	}
	j, v, err := store.LoadJourney(ctx, a.DB, id, version)
	if errors.Is(err, store.ErrNotFound) {
		return j, 0, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeJourneyNotFound, err)
	}
	if err != nil {
		return j, 0, err
	}
	a.mu.Lock()
	if a.journeys == nil {
		a.journeys = map[journeyKey]journeys.Journey{}
	}
	a.journeys[journeyKey{id, v}] = j
	a.mu.Unlock()
	return j, v, nil
}

// JourneyRef names a journey version; version 0 means the latest.
type JourneyRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// LoadedJourney is a journey version as a workflow interprets it.
type LoadedJourney struct {
	Version int              `json:"version"`
	Journey journeys.Journey `json:"journey"`
}

// LoadJourney loads a published journey version without its content bodies
// (the workflow needs structure, not templates). The lead ID is unused: the
// workflow records the version it pinned with its first progress write, so
// the lead row has one writer. (It stays in the signature because recorded
// histories carry it.)
func (a *Activities) LoadJourney(ctx context.Context, _ string, ref JourneyRef) (LoadedJourney, error) {
	j, v, err := a.journey(ctx, ref.ID, ref.Version)
	if err != nil {
		return LoadedJourney{}, err
	}
	return LoadedJourney{Version: v, Journey: j.WithoutBodies()}, nil
}

// SendRequest asks for one content item to be sent to one lead.
type SendRequest struct {
	// Key is the idempotency key: workflow, enrolment, step, occurrence.
	Key       string       `json:"key"`
	Lead      lead.Profile `json:"lead"`
	Journey   JourneyRef   `json:"journey"`
	StepID    string       `json:"step_id"`
	ContentID string       `json:"content_id"`
	// TimeScale is the journey's (demo and QA run faster than real
	// time); the send window is only checked here in real time.
	TimeScale float64 `json:"time_scale,omitempty"`
}

// Send outcomes.
const (
	SendSent       = "sent"
	SendDuplicate  = "duplicate"
	SendSuppressed = "suppressed"
	SendRejected   = "rejected"
	// SendAmbiguous: the message went out and the server's reply never
	// came; it is not sent again, and is listed for operators.
	SendAmbiguous = "ambiguous"
	// SendContentError: the content cannot be rendered for this lead (a
	// template that fails on its data); nothing was sent. The workflow
	// exits the lead or skips the send, as the journey says.
	SendContentError = "content_error"
	// SendUnconfirmed was the result of a send an earlier attempt died in,
	// before sends recorded their phases; recorded histories carry it.
	SendUnconfirmed = "unconfirmed"
)

// SendResult says what became of a send.
type SendResult struct {
	Status    string `json:"status"`
	MessageID string `json:"message_id,omitempty"`
	// Reason explains a send that did not go out as asked.
	Reason string `json:"reason,omitempty"`
}

// SendContent renders a content item for the lead and mails it once. The
// suppression list is checked now, not when the step was scheduled, so an
// unsubscribe that arrived during a wait stops the mail.
func (a *Activities) SendContent(ctx context.Context, req SendRequest) (SendResult, error) {
	res, err := a.sendContent(ctx, req)
	err = redact(err, req.Lead.Email)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		a.Metrics.Email(res.Status)
	case errors.As(err, &app) && app.Type() == ErrTypeHeld:
		// Held by a pause, the per-domain limit or a shut window: not
		// a failure, and counted when it goes.
	default:
		a.Metrics.Email("failed")
	}
	return res, err
}

func (a *Activities) sendContent(ctx context.Context, req SendRequest) (SendResult, error) {
	recheck := false
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		// A retry, or a first attempt that waited its turn in the send
		// queue (SEND_RATE), comes later than the workflow chose: it
		// checks the send window again.
		recheck = info.Attempt > 1 || info.StartedTime.Sub(info.ScheduledTime) > queuedLate
	}
	if err := a.held(ctx, req, recheck, time.Now()); err != nil {
		return SendResult{}, err
	}
	if reason, ok, err := store.IsSuppressed(ctx, a.DB, req.Lead.Email); err != nil {
		return SendResult{}, err
	} else if ok {
		return SendResult{Status: SendSuppressed, Reason: reason}, nil
	}
	j, _, err := a.journey(ctx, req.Journey.ID, req.Journey.Version)
	if err != nil {
		return SendResult{}, err
	}
	item, ok := j.ContentItem(req.ContentID)
	if !ok {
		return SendResult{Status: SendContentError, Reason: fmt.Sprintf("content %q is not in journey %q version %d", req.ContentID, req.Journey.ID, req.Journey.Version)}, nil
	}
	unsubscribe, err := a.Links.UnsubscribeURL(req.Lead.ID)
	if err != nil {
		return SendResult{}, err
	}
	body, err := item.RenderFor(req.Lead, unsubscribe)
	if err != nil {
		a.log(ctx).Error("content cannot be rendered for this lead; nothing sent", "lead", req.Lead.ID, "content", item.ID, "error", err)
		return SendResult{Status: SendContentError, Reason: err.Error()}, nil
	}
	if a.Track {
		body = a.track(ctx, req, item.ID, body, unsubscribe)
	}
	msgID := email.MessageID(req.Key, a.Mail.Domain())
	msg, err := a.message(req.Key, req.Lead.ID, email.Message{
		To: req.Lead.Email, ToName: req.Lead.Name(), Subject: body.Subject, Text: body.Text, HTML: body.HTML,
		MessageID: msgID, UnsubscribeURL: unsubscribe,
		Headers: map[string]string{"X-Nurture-Journey": req.Journey.ID, "X-Nurture-Content": item.ID},
	})
	if err != nil {
		return SendResult{}, err
	}
	raw, err := a.Mail.Render(msg)
	if err != nil {
		return SendResult{Status: SendContentError, Reason: err.Error()}, nil
	}
	send := store.Send{
		Key: req.Key, LeadID: req.Lead.ID, JourneyID: req.Journey.ID, Version: req.Journey.Version,
		StepID: req.StepID, ContentID: item.ID, To: req.Lead.Email, Subject: body.Subject, MessageID: msgID, Cost: item.Cost,
	}
	// Last before the send: a suppressed lead or content that cannot be
	// rendered takes no slot.
	if err := a.slot(ctx, req, time.Now()); err != nil {
		return SendResult{}, err
	}
	res, err := delivery.Send(ctx, a.DB, a.Mail, send, raw, deliveryOptions(ctx))
	if err != nil {
		return SendResult{}, err
	}
	switch res.Outcome {
	case delivery.Sent:
		a.log(ctx).Info("sent", "lead", req.Lead.ID, "content", item.ID)
		return SendResult{Status: SendSent, MessageID: msgID}, nil
	case delivery.AlreadySent:
		a.log(ctx).Info("send already done; not mailing again", "key", req.Key, "lead", req.Lead.ID)
		return SendResult{Status: SendDuplicate, MessageID: msgID}, nil
	case delivery.Ambiguous:
		a.log(ctx).Warn("the message went out and its reply was lost; not mailing again (see starter sends)", "key", req.Key, "lead", req.Lead.ID)
		return SendResult{Status: SendAmbiguous, MessageID: msgID, Reason: res.Reason}, nil
	default:
		return SendResult{Status: SendRejected, MessageID: msgID, Reason: res.Reason}, nil
	}
}

// held keeps a send back while its journey is paused: the activity fails
// and Temporal retries it (at most a minute apart) until the journey is
// resumed, so the lead's timers keep their place and nothing is lost. A
// retry that comes when the journey's send window is shut (the pause, the
// per-domain limit or the send queue outlasted it) waits for it to open: a
// send that fell due in the window goes out in the window.
// recheck is set for an attempt later than the workflow chose (a retry, or
// one that waited in the send queue), now is its time.
func (a *Activities) held(ctx context.Context, req SendRequest, recheck bool, now time.Time) error {
	p, paused, err := store.JourneyPaused(ctx, a.DB, req.Journey.ID)
	if err != nil {
		return err
	}
	if paused {
		return heldError(fmt.Sprintf("journey %s is paused (since %s: %s); the send waits for starter resume",
			req.Journey.ID, p.Since.UTC().Format(time.RFC3339), p.Reason), 0)
	}
	if !recheck || req.TimeScale > 1 {
		return nil
	}
	j, _, err := a.journey(ctx, req.Journey.ID, req.Journey.Version)
	if err != nil || j.SendWindow == nil {
		return err
	}
	now = now.In(zones.First(req.Lead.TimeZone, j.TimeZone))
	if open := j.SendWindow.NextOpen(now); open.After(now) {
		return heldError(fmt.Sprintf("the send window of journey %s is shut; the send waits until %s", req.Journey.ID, open.Format(time.RFC3339)), 0)
	}
	return nil
}

// track sends the links of a rendered email through the click redirect
// and adds the open pixel. The click and open tokens carry the lead, the
// send key and the content, so nothing is stored for them. The receiver's
// own links (the unsubscribe link above all, which must stay the RFC 8058
// one) are left as they are. A part that cannot be tracked goes out as
// rendered, and why is logged: an untracked email is better than none.
func (a *Activities) track(ctx context.Context, req SendRequest, contentID string, body journeys.Rendered, unsubscribe string) journeys.Rendered {
	log := withKeys{a.log(ctx), []any{"lead", req.Lead.ID, "content", contentID}}
	link := tracking.Stable(func(target string) (string, error) {
		if target == unsubscribe || a.ours(target) {
			return target, nil
		}
		u, err := a.Links.ClickURL(req.Lead.ID, req.Key, contentID, target)
		if err != nil {
			// A URL without a host, or too long to sign: left as written.
			// The error would quote the URL, which may hold the address.
			log.Warn("a link is left untracked: not an http(s) URL with a host, or over the token limit", "url_bytes", len(target))
			return target, nil
		}
		return u, nil
	})
	if body.HTML != "" {
		if h, err := tracking.HTML(body.HTML, link); err != nil {
			log.Error("the HTML part's links are left untracked", "error", err)
		} else {
			body.HTML = h
		}
		if open, err := a.Links.OpenURL(req.Lead.ID, req.Key, contentID); err != nil {
			log.Error("no open pixel", "error", err)
		} else if h, err := tracking.Pixel(body.HTML, open); err != nil {
			log.Error("no open pixel", "error", err)
		} else {
			body.HTML = h
		}
	}
	if body.Text != "" {
		if t, err := tracking.Text(body.Text, link); err != nil {
			log.Error("the text part's links are left untracked", "error", err)
		} else {
			body.Text = t
		}
	}
	return body
}

// ours reports whether a URL is one the receiver serves (unsubscribe,
// click, open, verdict): those are never tracked again.
func (a *Activities) ours(target string) bool {
	base := strings.TrimRight(a.Links.BaseURL, "/")
	if base == "" {
		return false
	}
	for _, p := range []string{links.UnsubscribePath, links.ClickPath, links.OpenPath, links.VerdictPath} {
		if strings.HasPrefix(target, base+p) {
			return true
		}
	}
	return false
}

// message adds to m what every message nurture sends carries, to a lead
// or to sales: the email provider's headers that tie the provider's events
// (delivered, bounced, opened) to the send key. Every send path builds its
// message here.
func (a *Activities) message(sendKey, leadID string, m email.Message) (email.Message, error) {
	extra, err := email.ProviderHeaders(a.Provider, sendKey, leadID)
	if err != nil || len(extra) == 0 {
		return m, err
	}
	headers := maps.Clone(m.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	maps.Copy(headers, extra)
	m.Headers = headers
	return m, nil
}

// deliveryOptions joins a send to its activity: heartbeats as it moves on
// and waits, and what an earlier attempt knew.
func deliveryOptions(ctx context.Context) delivery.Options {
	if !activity.IsActivity(ctx) {
		return delivery.Options{} // called directly, as tests and tools do
	}
	o := delivery.Options{Beat: func(detail any) {
		if detail == nil {
			activity.RecordHeartbeat(ctx)
			return
		}
		activity.RecordHeartbeat(ctx, detail)
	}}
	if activity.HasHeartbeatDetails(ctx) {
		var acc delivery.Accepted
		if err := activity.GetHeartbeatDetails(ctx, &acc); err == nil && acc.Token != "" {
			o.Accepted = &acc
		}
	}
	return o
}

// logger is what activities log through: Temporal's activity logger,
// or the worker's slog.Logger (the same methods).
type logger interface {
	Debug(msg string, keyvals ...any)
	Info(msg string, keyvals ...any)
	Warn(msg string, keyvals ...any)
	Error(msg string, keyvals ...any)
}

// log is Temporal's activity logger inside an activity (its lines carry
// the namespace, task queue, workflow and activity IDs and the attempt),
// else the worker's. Lines name leads by ID, never by address.
func (a *Activities) log(ctx context.Context) logger {
	if activity.IsActivity(ctx) {
		return activity.GetLogger(ctx)
	}
	return a.Log
}

// withKeys adds key-value pairs to every line of a logger.
type withKeys struct {
	l    logger
	keys []any
}

func (w withKeys) Debug(msg string, kv ...any) { w.l.Debug(msg, slices.Concat(kv, w.keys)...) }
func (w withKeys) Info(msg string, kv ...any)  { w.l.Info(msg, slices.Concat(kv, w.keys)...) }
func (w withKeys) Warn(msg string, kv ...any)  { w.l.Warn(msg, slices.Concat(kv, w.keys)...) }
func (w withKeys) Error(msg string, kv ...any) { w.l.Error(msg, slices.Concat(kv, w.keys)...) }

// Progress is what a journey records of its lead as it goes: score, stage
// and lifecycle, and what happened. It is store.Snapshot as the workflow
// sends it, so the workflow needs no database package to build one.
type Progress struct {
	Kind        progress.Kind `json:"kind"`
	Step        string        `json:"step"`
	LeadID      string        `json:"lead_id"`
	Enrollment  string        `json:"enrollment"`
	Seq         int           `json:"seq"`
	JourneyID   string        `json:"journey_id"`
	Version     int           `json:"version"`
	Score       scoring.Score `json:"score"`
	Lifecycle   string        `json:"lifecycle"`
	BuyingStage string        `json:"buying_stage"`
	Ended       bool          `json:"ended,omitempty"`
	ExitReason  string        `json:"exit_reason,omitempty"`
	Reason      string        `json:"reason"`
	At          time.Time     `json:"at"`
}

// Snapshot is the record as the store keeps it.
func (p Progress) Snapshot() store.Snapshot { return store.Snapshot(p) }

// RecordProgress stores a score snapshot and the lead's stage and lifecycle.
func (a *Activities) RecordProgress(ctx context.Context, p Progress) error {
	return store.RecordProgress(ctx, a.DB, p.Snapshot())
}

// HandOffRequest hands a lead to sales.
type HandOffRequest struct {
	Key     string        `json:"key"`
	Lead    lead.Profile  `json:"lead"`
	Journey JourneyRef    `json:"journey"`
	Score   scoring.Score `json:"score"`
	Reason  string        `json:"reason"`
	// SalesEmail overrides the worker's SALES_EMAIL.
	SalesEmail string `json:"sales_email,omitempty"`
}

// HandOffResult identifies the hand-off, for sales' verdict.
type HandOffResult struct {
	ID int64 `json:"id"`
}

// HandOff records the hand-off once and tells sales by email. Workflows
// started before the notice went apart from the hand-off run it; newer ones
// call RecordHandoff and then NotifySales, so a hand-off never waits on SMTP.
func (a *Activities) HandOff(ctx context.Context, req HandOffRequest) (HandOffResult, error) {
	res, err := a.RecordHandoff(ctx, req)
	if err != nil {
		return res, err
	}
	_, err = a.NotifySales(ctx, NoticeRequest{Handoff: req, HandoffID: res.ID})
	return res, err
}

// RecordHandoff records the hand-off once per key: the hand-off stands on
// this row, whatever becomes of the email that tells sales about it.
//
// A journey with routing gives the hand-off an owner: the address of the
// first rule that matches the lead, or the next member of its team in
// turn, or the fallback; the owner gets the notice. The journey version is
// read from PostgreSQL here, so routing needs nothing of the workflow.
func (a *Activities) RecordHandoff(ctx context.Context, req HandOffRequest) (HandOffResult, error) {
	h := store.Handoff{
		Key: req.Key, LeadID: req.Lead.ID, JourneyID: req.Journey.ID, Version: req.Journey.Version,
		Score: req.Score, Reason: req.Reason, SalesEmail: a.salesEmail(req.SalesEmail),
	}
	j, _, err := a.journey(ctx, req.Journey.ID, req.Journey.Version)
	if err != nil {
		return HandOffResult{}, err
	}
	var id int64
	route := journeys.Route{}
	if j.Handoff.Routing != nil {
		route = j.Handoff.Routing.Route(req.Lead)
	}
	switch {
	case route.Team != "":
		h.Team = route.Team
		id, h.SalesEmail, err = store.InsertRoutedHandoff(ctx, a.DB, h, route.Members)
	default:
		if route.Owner != "" {
			h.SalesEmail = route.Owner
		}
		id, _, err = store.InsertHandoff(ctx, a.DB, h)
	}
	if err != nil {
		return HandOffResult{}, err
	}
	a.log(ctx).Info("handed off", "lead", req.Lead.ID, "score", req.Score.Total(), "handoff", id, "team", h.Team)
	// An activity retried after its reply was lost records the hand-off
	// once (by its key) but counts it again.
	a.Metrics.Handoff()
	return HandOffResult{ID: id}, nil
}

// NoticeRequest asks for the email that tells sales about a hand-off.
type NoticeRequest struct {
	Handoff   HandOffRequest `json:"handoff"`
	HandoffID int64          `json:"handoff_id"`
}

// NoticeResult says what became of the notice.
type NoticeResult struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// NotifySales mails the hand-off notice once, with the score breakdown so
// the rep sees why the lead is ready, and signed verdict links (accept,
// reject, send back to nurture) for the receiver's /verdict/ path, in the
// text and as HTML buttons. Notices are never tracked and carry no
// unsubscribe header: they go to sales, not to a lead. An ambiguous notice
// is not sent again; it is listed with every other ambiguous send.
func (a *Activities) NotifySales(ctx context.Context, req NoticeRequest) (NoticeResult, error) {
	h := req.Handoff
	// The hand-off's owner, as it was recorded (routed, or the sales
	// address).
	to, err := store.HandoffOwner(ctx, a.DB, req.HandoffID)
	if err != nil {
		return NoticeResult{}, err
	}
	if to == "" {
		to = a.salesEmail(h.SalesEmail)
	}
	if to == "" {
		a.log(ctx).Warn("hand-off recorded but no sales address is configured (SALES_EMAIL)", "lead", h.Lead.ID)
		return NoticeResult{Status: "no sales address"}, nil
	}
	var buttons []verdictLink
	for _, b := range verdictButtons {
		u, err := a.Links.VerdictURL(h.Lead.ID, req.HandoffID, b.verdict)
		if err != nil {
			return NoticeResult{}, err
		}
		buttons = append(buttons, verdictLink{Verdict: b.verdict, Label: b.label, URL: u})
	}
	subject, text, html, err := salesNotice(req.HandoffID, h, buttons)
	if err != nil {
		return NoticeResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, err)
	}
	res, err := a.notify(ctx, notice{
		key: h.Key + "/sales-mail", lead: h.Lead, journey: h.Journey, stepID: "handoff", kind: store.NoticeHandoff,
		to: to, subject: subject, text: text, html: html, header: "X-Nurture-Handoff", id: req.HandoffID,
	})
	if err != nil {
		return NoticeResult{}, err
	}
	return NoticeResult{Status: string(res.Outcome), Reason: res.Reason}, nil
}

func (a *Activities) salesEmail(journeys string) string {
	if journeys != "" {
		return journeys
	}
	return a.SalesEmail
}

// notice is a mail to sales about a lead: a hand-off or a task.
type notice struct {
	key     string
	lead    lead.Profile
	journey JourneyRef
	stepID  string
	// kind is stored as the send's content ID, so counts of journey email
	// leave notices out.
	kind        string
	to, subject string
	text        string
	// html is an HTML alternative to text, when there is one.
	html   string
	header string
	id     int64
}

// notify mails a notice once per key, through the same recorded phases as
// a lead's email.
func (a *Activities) notify(ctx context.Context, n notice) (delivery.Result, error) {
	msgID := email.MessageID(n.key, a.Mail.Domain())
	// The notice goes to sales, not the lead: it names no lead to the
	// provider, so a rep opening it is never the lead's engagement.
	msg, err := a.message(n.key, "", email.Message{To: n.to, Subject: n.subject, Text: n.text, HTML: n.html, MessageID: msgID,
		Headers: map[string]string{"X-Nurture-Journey": n.journey.ID, n.header: fmt.Sprint(n.id)}})
	if err != nil {
		return delivery.Result{}, err
	}
	raw, err := a.Mail.Render(msg)
	if err != nil {
		return delivery.Result{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, err)
	}
	res, err := delivery.Send(ctx, a.DB, a.Mail, store.Send{
		Key: n.key, LeadID: n.lead.ID, JourneyID: n.journey.ID, Version: n.journey.Version,
		StepID: n.stepID, ContentID: n.kind, To: n.to, Subject: n.subject, MessageID: msgID,
	}, raw, deliveryOptions(ctx))
	if err != nil {
		return res, err
	}
	if res.Outcome == delivery.Ambiguous {
		a.log(ctx).Warn("a notice to sales went out and its reply was lost; not mailing again (see starter sends)", "key", n.key, "lead", n.lead.ID)
	}
	return res, nil
}

// verdictButtons are the answers the hand-off email offers, in order.
// The verdicts are those of package workflows (VerdictAccepted, ...), which
// imports this one; a test holds them equal.
var verdictButtons = []struct{ verdict, label string }{
	{"accepted", "Accept"},
	{"rejected", "Reject"},
	{"recycle", "Send back to nurture"},
}

// verdictLink is one signed verdict button of a hand-off email.
type verdictLink struct {
	Verdict, Label, URL string
}

// salesNotice is the hand-off email: the lead, why it is ready, its score
// breakdown and the verdict buttons, as text and as HTML.
func salesNotice(id int64, req HandOffRequest, buttons []verdictLink) (subject, text, html string, err error) {
	p := req.Lead
	subject = fmt.Sprintf("Sales-ready lead: %s (%s), score %d", nonEmpty(p.Name(), p.Email), nonEmpty(p.Company, "no company"), req.Score.Total())
	sc := req.Score
	text = fmt.Sprintf("A lead is ready for sales (hand-off #%d).\n\nName:    %s\nEmail:   %s\nCompany: %s\nTitle:   %s\nJourney: %s v%d\nWhy:     %s\n\nScore %d = fit %d + interest %d + intent %d + adjusted %d",
		id, p.Name(), p.Email, p.Company, p.Title, req.Journey.ID, req.Journey.Version, req.Reason,
		sc.Total(), sc.Fit, sc.Interest, sc.Intent, sc.Adjusted)
	grade := ""
	if sc.FitGrade != "" {
		grade = fmt.Sprintf(" (grade %s%s)", sc.FitGrade, sc.EngagementGrade)
		text += grade
	}
	// "now" is what each rule's points are worth after decay: the column
	// that adds up to the score.
	text += fmt.Sprintf(":\n  %-32s %-6s %6s %5s\n", "rule", "count", "points", "now")
	for _, l := range sc.Breakdown {
		text += fmt.Sprintf("  %-32s x%-5d %+6d %+5d\n", l.Rule, l.Count, l.Points, l.Decayed)
	}
	text += fmt.Sprintf("\nYour verdict, in one click (the links work for %d days):\n", int(links.VerdictLife.Hours()/24))
	for _, b := range buttons {
		text += fmt.Sprintf("  %-22s %s\n", b.Label+":", b.URL)
	}
	text += fmt.Sprintf("\nOr from the command line: starter feedback %s accepted|rejected|recycle\n", p.Email)

	var b strings.Builder
	err = noticeHTML.Execute(&b, struct {
		ID       int64
		Req      HandOffRequest
		Name     string
		Total    int
		Grade    string
		Buttons  []verdictLink
		LifeDays int
	}{id, req, nonEmpty(p.Name(), p.Email), sc.Total(), grade, buttons, int(links.VerdictLife.Hours() / 24)})
	return subject, text, b.String(), err
}

// noticeHTML is the hand-off email for mail clients that show HTML: the
// same facts as the text, and the verdicts as buttons. No tables; inline
// styles only, since mail clients drop style sheets.
var noticeHTML = htmltemplate.Must(htmltemplate.New("notice").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sales-ready lead</title></head>
<body style="margin:0;padding:24px;background:#ffffff;color:#1f2328;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5">
<div style="max-width:600px">
<h1 style="font-size:20px;margin:0 0 4px">{{.Name}} is ready for sales</h1>
<p style="margin:0 0 16px;color:#59636e">Hand-off #{{.ID}} from journey {{.Req.Journey.ID}} v{{.Req.Journey.Version}}: {{.Req.Reason}}</p>
<p style="margin:0 0 16px">
<strong>Email</strong> {{.Req.Lead.Email}}<br>
<strong>Company</strong> {{or .Req.Lead.Company "-"}}<br>
<strong>Title</strong> {{or .Req.Lead.Title "-"}}
</p>
<p style="margin:0 0 4px"><strong>Score {{.Total}}</strong> = fit {{.Req.Score.Fit}} + interest {{.Req.Score.Interest}} + intent {{.Req.Score.Intent}} + adjusted {{.Req.Score.Adjusted}}{{.Grade}}</p>
<ul style="margin:0 0 24px;padding-left:20px">
{{- range .Req.Score.Breakdown}}
<li>{{.Rule}} &times;{{.Count}}: {{printf "%+d" .Points}} points, {{printf "%+d" .Decayed}} now</li>
{{- end}}
</ul>
<p style="margin:0 0 8px"><strong>Your verdict</strong></p>
<p style="margin:0 0 16px">
{{- range .Buttons}}
<a href="{{.URL}}" style="display:inline-block;margin:0 8px 8px 0;padding:10px 18px;border-radius:6px;background:{{if eq .Verdict "accepted"}}#1a7f37{{else if eq .Verdict "rejected"}}#cf222e{{else}}#0969da{{end}};color:#ffffff;font-weight:bold;text-decoration:none">{{.Label}}</a>
{{- end}}
</p>
<p style="margin:0;font-size:13px;color:#59636e">The buttons work for {{.LifeDays}} days.</p>
</div>
</body></html>
`))

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// VerdictRequest records sales' answer to a hand-off.
type VerdictRequest struct {
	HandoffID int64  `json:"handoff_id"`
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason,omitempty"`
	Owner     string `json:"owner,omitempty"`
}

// RecordVerdict stores sales' verdict on a hand-off.
func (a *Activities) RecordVerdict(ctx context.Context, req VerdictRequest) error {
	if err := store.SetVerdict(ctx, a.DB, req.HandoffID, req.Verdict, req.Reason, req.Owner); err != nil {
		return err
	}
	a.Metrics.Verdict(req.Verdict)
	return nil
}

// TaskRequest asks a person to do something for a lead.
type TaskRequest struct {
	Key     string       `json:"key"`
	Lead    lead.Profile `json:"lead"`
	Journey JourneyRef   `json:"journey"`
	StepID  string       `json:"step_id"`
	// Title is the step's template; it is rendered here.
	Title    string   `json:"title"`
	Assignee string   `json:"assignee,omitempty"`
	Cost     float64  `json:"cost,omitempty"`
	Outcomes []string `json:"outcomes"`
	// Due is when the journey stops waiting, for the assignee's mail.
	Due time.Time `json:"due"`
}

// TaskResult identifies the task, for its outcome.
type TaskResult struct {
	ID int64 `json:"id"`
}

// CreateTask records a task once and mails it to its assignee (the sales
// address by default) with how to report the outcome.
func (a *Activities) CreateTask(ctx context.Context, req TaskRequest) (TaskResult, error) {
	title, err := journeys.RenderTaskTitle(req.Title, req.Lead)
	if err != nil {
		return TaskResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, err)
	}
	to := req.Assignee
	if to == "" {
		to = a.SalesEmail
	}
	id, _, err := store.InsertTask(ctx, a.DB, store.Task{
		Key: req.Key, LeadID: req.Lead.ID, JourneyID: req.Journey.ID, Version: req.Journey.Version,
		StepID: req.StepID, Title: title, Assignee: to, Cost: req.Cost, Outcomes: req.Outcomes,
	})
	if err != nil {
		return TaskResult{}, err
	}
	if to == "" {
		a.log(ctx).Warn("task recorded but nobody to mail it to (SALES_EMAIL)", "lead", req.Lead.ID, "task", id)
		return TaskResult{ID: id}, nil
	}
	p := req.Lead
	text := fmt.Sprintf("%s\n\nLead:    %s <%s>\nCompany: %s\nTitle:   %s\nDue:     %s\n\nWhen it is done, report what came of it (one of: %s):\n\n  starter task %s OUTCOME\n",
		title, p.Name(), p.Email, p.Company, p.Title, req.Due.UTC().Format(time.RFC1123), strings.Join(req.Outcomes, ", "), p.Email)
	_, err = a.notify(ctx, notice{
		key: req.Key + "/mail", lead: p, journey: req.Journey, stepID: req.StepID, kind: store.NoticeTask,
		to: to, subject: "Task: " + title, text: text, header: "X-Nurture-Task", id: id,
	})
	if err != nil {
		return TaskResult{}, err
	}
	return TaskResult{ID: id}, nil
}

// TaskOutcomeRequest records what came of a task.
type TaskOutcomeRequest struct {
	TaskID  int64  `json:"task_id"`
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
}

// RecordTaskOutcome stores a task's outcome.
func (a *Activities) RecordTaskOutcome(ctx context.Context, req TaskOutcomeRequest) error {
	return store.SetTaskOutcome(ctx, a.DB, req.TaskID, req.Outcome, req.Note)
}
