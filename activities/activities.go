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
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/store"
)

// Non-retryable error types: retrying cannot fix them.
const (
	ErrTypeTemplate        = "TemplateError"
	ErrTypeJourneyNotFound = "JourneyNotFound"
)

// Activities holds what the side effects need.
type Activities struct {
	DB    store.DB
	Mail  *email.Sender
	Links links.Signer
	// SalesEmail receives hand-offs unless the journey names another.
	SalesEmail string
	Log        *slog.Logger

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
// (the workflow needs structure, not templates), and pins it on the lead.
func (a *Activities) LoadJourney(ctx context.Context, leadID string, ref JourneyRef) (LoadedJourney, error) {
	j, v, err := a.journey(ctx, ref.ID, ref.Version)
	if err != nil {
		return LoadedJourney{}, err
	}
	if err := store.SetLeadJourney(ctx, a.DB, leadID, ref.ID, v); err != nil {
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
}

// Send outcomes.
const (
	SendSent       = "sent"
	SendDuplicate  = "duplicate"
	SendSuppressed = "suppressed"
	SendRejected   = "rejected"
	// SendUnconfirmed: an earlier attempt died during the SMTP conversation;
	// the message may have gone out, so it is not sent again.
	SendUnconfirmed = "unconfirmed"
)

// SendResult says what became of a send.
type SendResult struct {
	Status    string `json:"status"`
	MessageID string `json:"message_id,omitempty"`
	// Reason explains a suppressed or rejected send.
	Reason string `json:"reason,omitempty"`
}

// SendContent renders a content item for the lead and mails it once. The
// suppression list is checked now, not when the step was scheduled, so an
// unsubscribe that arrived during a wait stops the mail.
func (a *Activities) SendContent(ctx context.Context, req SendRequest) (SendResult, error) {
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
		err := fmt.Errorf("content %q is not in journey %q version %d", req.ContentID, req.Journey.ID, req.Journey.Version)
		return SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, err)
	}
	// The lead's persona picks the content's variant, at send time, so a
	// persona learned during the journey counts.
	item = item.ForPersona(req.Lead.Fields["persona"])
	unsubscribe := a.Links.UnsubscribeURL(req.Lead.ID, req.Lead.Email)
	body, err := item.Render(journeys.DataFor(req.Lead, unsubscribe))
	if err != nil {
		return SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, err)
	}
	msgID := email.MessageID(req.Key, a.Mail.Domain())
	send := store.Send{
		Key: req.Key, LeadID: req.Lead.ID, JourneyID: req.Journey.ID, Version: req.Journey.Version,
		StepID: req.StepID, ContentID: item.ID, To: req.Lead.Email, Subject: body.Subject, MessageID: msgID, Cost: item.Cost,
	}
	err = store.SendOnce(ctx, a.DB, send, func() error {
		return a.Mail.Send(ctx, email.Message{
			To: req.Lead.Email, ToName: fullName(req.Lead), Subject: body.Subject, Text: body.Text, HTML: body.HTML,
			MessageID: msgID, UnsubscribeURL: unsubscribe,
			Headers: map[string]string{"X-Nurture-Journey": req.Journey.ID, "X-Nurture-Content": item.ID},
		})
	})
	switch {
	case errors.Is(err, store.ErrAlreadySent):
		a.Log.Info("send already done; not mailing again", "key", req.Key, "lead", req.Lead.Email)
		return SendResult{Status: SendDuplicate, MessageID: msgID}, nil
	case errors.Is(err, store.ErrUnconfirmed):
		a.Log.Warn("an earlier attempt died mid-send; not mailing again", "key", req.Key, "lead", req.Lead.Email)
		return SendResult{Status: SendUnconfirmed, MessageID: msgID}, nil
	case err != nil && email.IsPermanent(err):
		// The server refused the address for good; a retry would too.
		return SendResult{Status: SendRejected, Reason: err.Error()}, nil
	case err != nil:
		return SendResult{}, err
	}
	a.Log.Info("sent", "lead", req.Lead.Email, "content", item.ID, "subject", body.Subject)
	return SendResult{Status: SendSent, MessageID: msgID}, nil
}

func fullName(p lead.Profile) string {
	switch {
	case p.FirstName != "" && p.LastName != "":
		return p.FirstName + " " + p.LastName
	default:
		return p.FirstName + p.LastName
	}
}

// RecordProgress stores a score snapshot and the lead's stage and lifecycle.
func (a *Activities) RecordProgress(ctx context.Context, s store.Snapshot) error {
	return store.RecordProgress(ctx, a.DB, s)
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

// HandOff records the hand-off once and tells sales by email, with the score
// breakdown so the rep sees why the lead is ready.
func (a *Activities) HandOff(ctx context.Context, req HandOffRequest) (HandOffResult, error) {
	to := req.SalesEmail
	if to == "" {
		to = a.SalesEmail
	}
	id, _, err := store.InsertHandoff(ctx, a.DB, store.Handoff{
		Key: req.Key, LeadID: req.Lead.ID, JourneyID: req.Journey.ID, Version: req.Journey.Version,
		Score: req.Score, Reason: req.Reason, SalesEmail: to,
	})
	if err != nil {
		return HandOffResult{}, err
	}
	if to == "" {
		a.Log.Warn("hand-off recorded but no sales address is configured (SALES_EMAIL)", "lead", req.Lead.Email)
		return HandOffResult{ID: id}, nil
	}
	subject, text := salesNotice(id, req)
	err = a.notify(ctx, notice{
		key: req.Key + "/sales-mail", lead: req.Lead, journey: req.Journey, stepID: "handoff", kind: "sales-handoff",
		to: to, subject: subject, text: text, header: "X-Nurture-Handoff", id: id,
	})
	if err != nil {
		return HandOffResult{}, err
	}
	a.Log.Info("handed off", "lead", req.Lead.Email, "score", req.Score.Total(), "handoff", id)
	return HandOffResult{ID: id}, nil
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
	header      string
	id          int64
}

// notify mails a notice once per key. A notice an earlier attempt may have
// sent is not sent again: sales gets it at most once, like leads.
func (a *Activities) notify(ctx context.Context, n notice) error {
	msgID := email.MessageID(n.key, a.Mail.Domain())
	err := store.SendOnce(ctx, a.DB, store.Send{
		Key: n.key, LeadID: n.lead.ID, JourneyID: n.journey.ID, Version: n.journey.Version,
		StepID: n.stepID, ContentID: n.kind, To: n.to, Subject: n.subject, MessageID: msgID,
	}, func() error {
		return a.Mail.Send(ctx, email.Message{To: n.to, Subject: n.subject, Text: n.text, MessageID: msgID,
			Headers: map[string]string{"X-Nurture-Journey": n.journey.ID, n.header: fmt.Sprint(n.id)}})
	})
	if errors.Is(err, store.ErrAlreadySent) || errors.Is(err, store.ErrUnconfirmed) {
		return nil
	}
	return err
}

func salesNotice(id int64, req HandOffRequest) (string, string) {
	p := req.Lead
	subject := fmt.Sprintf("Sales-ready lead: %s (%s), score %d", nonEmpty(fullName(p), p.Email), nonEmpty(p.Company, "no company"), req.Score.Total())
	sc := req.Score
	text := fmt.Sprintf("A lead is ready for sales (hand-off #%d).\n\nName:    %s\nEmail:   %s\nCompany: %s\nTitle:   %s\nJourney: %s v%d\nWhy:     %s\n\nScore %d = fit %d + interest %d + intent %d + adjusted %d",
		id, fullName(p), p.Email, p.Company, p.Title, req.Journey.ID, req.Journey.Version, req.Reason,
		sc.Total(), sc.Fit, sc.Interest, sc.Intent, sc.Adjusted)
	if sc.FitGrade != "" {
		text += fmt.Sprintf(" (grade %s%s)", sc.FitGrade, sc.EngagementGrade)
	}
	// "now" is what each rule's points are worth after decay: the column
	// that adds up to the score.
	text += fmt.Sprintf(":\n  %-32s %-6s %6s %5s\n", "rule", "count", "points", "now")
	for _, l := range sc.Breakdown {
		text += fmt.Sprintf("  %-32s x%-5d %+6d %+5d\n", l.Rule, l.Count, l.Points, l.Decayed)
	}
	text += "\nReply with your verdict: accepted, rejected or recycle (send back to nurture).\n"
	return subject, text
}

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
}

// RecordVerdict stores sales' verdict on a hand-off.
func (a *Activities) RecordVerdict(ctx context.Context, req VerdictRequest) error {
	return store.SetVerdict(ctx, a.DB, req.HandoffID, req.Verdict, req.Reason)
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
	title, err := journeys.Content{ID: "task", Subject: req.Title}.Render(journeys.DataFor(req.Lead, ""))
	if err != nil {
		return TaskResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, err)
	}
	to := req.Assignee
	if to == "" {
		to = a.SalesEmail
	}
	id, _, err := store.InsertTask(ctx, a.DB, store.Task{
		Key: req.Key, LeadID: req.Lead.ID, JourneyID: req.Journey.ID, Version: req.Journey.Version,
		StepID: req.StepID, Title: title.Subject, Assignee: to, Cost: req.Cost, Outcomes: req.Outcomes,
	})
	if err != nil {
		return TaskResult{}, err
	}
	if to == "" {
		a.Log.Warn("task recorded but nobody to mail it to (SALES_EMAIL)", "lead", req.Lead.Email, "task", id)
		return TaskResult{ID: id}, nil
	}
	p := req.Lead
	text := fmt.Sprintf("%s\n\nLead:    %s <%s>\nCompany: %s\nTitle:   %s\nDue:     %s\n\nWhen it is done, report what came of it (one of: %s):\n\n  starter task %s OUTCOME\n",
		title.Subject, fullName(p), p.Email, p.Company, p.Title, req.Due.UTC().Format(time.RFC1123), strings.Join(req.Outcomes, ", "), p.Email)
	err = a.notify(ctx, notice{
		key: req.Key + "/mail", lead: p, journey: req.Journey, stepID: req.StepID, kind: "task",
		to: to, subject: "Task: " + title.Subject, text: text, header: "X-Nurture-Task", id: id,
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
