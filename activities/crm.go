package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/signature"
	"github.com/nurture-dev/nurture/store"
)

// CRM is where hand-offs are posted (CRM_WEBHOOK_URL) and the secret that
// signs them (CRM_WEBHOOK_SECRET). A journey's handoff.crm_url overrides
// the URL.
type CRM struct {
	URL    string
	Secret []byte
	// Client posts; a client with a 30-second timeout when nil.
	Client *http.Client
}

// CRMRequest asks for a hand-off to be posted to the CRM.
type CRMRequest struct {
	Handoff   HandOffRequest `json:"handoff"`
	HandoffID int64          `json:"handoff_id"`
	// URL is the journey's own CRM endpoint; the worker's when empty.
	URL string `json:"url,omitempty"`
}

// CRMResult says what became of the post.
type CRMResult struct {
	// Status is "delivered" or "not configured" (no URL anywhere, or no
	// secret to sign with).
	Status string `json:"status"`
}

// CRMHandoff is the body of the post: what a CRM needs to create the lead
// and its task, the contract in webhook/openapi.yaml (webhooks: crmHandoff).
type CRMHandoff struct {
	Event          string         `json:"event"`
	HandoffID      int64          `json:"handoff_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	Journey        JourneyRef     `json:"journey"`
	Lead           lead.Profile   `json:"lead"`
	Score          CRMScore       `json:"score"`
	Reason         string         `json:"reason"`
	Owner          string         `json:"owner"`
	Team           string         `json:"team,omitempty"`
	RecentActivity []CRMActivity  `json:"recent_activity"`
	HandedOffAt    time.Time      `json:"handed_off_at"`
	Breakdown      []scoring.Line `json:"breakdown"`
}

// CRMScore is the score at hand-off by axis.
type CRMScore struct {
	Total    int `json:"total"`
	Fit      int `json:"fit"`
	Interest int `json:"interest"`
	Intent   int `json:"intent"`
}

// CRMActivity is one of the lead's latest events.
type CRMActivity struct {
	Type       lead.EventType    `json:"type"`
	OccurredAt time.Time         `json:"occurred_at"`
	Properties map[string]string `json:"properties,omitempty"`
}

// CRMEvent names the post's event.
const CRMEvent = "handoff"

// IdempotencyHeader carries the hand-off's key on the post, so a CRM
// ignores a retry of a post it took.
const IdempotencyHeader = "Idempotency-Key"

// ErrTypeCRM marks a post the CRM did not take; Temporal retries it.
const ErrTypeCRM = "CRMUnavailable"

// PostToCRM posts a hand-off to the CRM, signed like the receiver's
// inbound webhooks, with the hand-off's key in IdempotencyHeader. Every
// attempt is recorded (store.RecordCRMAttempt), so a CRM that keeps failing
// shows in `starter status` and the console. A 2xx is delivered; anything
// else is an error Temporal retries with backoff.
func (a *Activities) PostToCRM(ctx context.Context, req CRMRequest) (CRMResult, error) {
	url := req.URL
	if url == "" {
		url = a.CRM.URL
	}
	if url == "" {
		return CRMResult{Status: "not configured"}, nil
	}
	if len(a.CRM.Secret) == 0 {
		// Never unsigned: the CRM could not tell the post from a forgery.
		a.log(ctx).Warn("hand-off not posted to the CRM: there is no CRM_WEBHOOK_SECRET to sign it", "handoff", req.HandoffID, "url", url)
		return CRMResult{Status: "not configured"}, nil
	}
	body, err := a.crmBody(ctx, req)
	if err != nil {
		return CRMResult{}, err
	}
	status, failure := a.postCRM(ctx, url, req.Handoff.Key, body)
	if email := req.Handoff.Lead.Email; email != "" {
		// The CRM's answer may quote what it was sent (see redact).
		failure = strings.ReplaceAll(failure, email, theAddress)
	}
	if err := store.RecordCRMAttempt(ctx, a.DB, req.HandoffID, url, status, failure); err != nil {
		return CRMResult{}, err
	}
	if failure != "" {
		a.log(ctx).Warn("the CRM did not take a hand-off; retrying", "handoff", req.HandoffID, "status", status, "error", failure)
		return CRMResult{}, temporal.NewApplicationError(failure, ErrTypeCRM)
	}
	a.log(ctx).Info("hand-off posted to the CRM", "handoff", req.HandoffID)
	return CRMResult{Status: "delivered"}, nil
}

func (a *Activities) crmBody(ctx context.Context, req CRMRequest) ([]byte, error) {
	h := req.Handoff
	hs, err := store.ListHandoffs(ctx, a.DB, h.Lead.ID)
	if err != nil {
		return nil, err
	}
	out := CRMHandoff{Event: CRMEvent, HandoffID: req.HandoffID, IdempotencyKey: h.Key, Journey: h.Journey, Lead: h.Lead,
		Score:  CRMScore{Total: h.Score.Total(), Fit: h.Score.Fit, Interest: h.Score.Interest, Intent: h.Score.Intent},
		Reason: h.Reason, Breakdown: h.Score.Breakdown, RecentActivity: []CRMActivity{}}
	for _, row := range hs {
		if row.ID == req.HandoffID {
			out.Owner, out.Team, out.HandedOffAt = row.SalesEmail, row.Team, row.CreatedAt.UTC()
		}
	}
	evs, err := store.RecentEvents(ctx, a.DB, []string{h.Lead.ID}, 10)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		out.RecentActivity = append(out.RecentActivity, CRMActivity{Type: ev.Type, OccurredAt: ev.OccurredAt.UTC(), Properties: ev.Properties})
	}
	return json.Marshal(out)
}

// postCRM posts once and says the CRM's status and, if it did not take the
// post, why.
func (a *Activities) postCRM(ctx context.Context, url, key string, body []byte) (int, string) {
	hc := a.CRM.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Sprintf("CRM URL %q: %v", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(signature.Header, signature.Sign(a.CRM.Secret, time.Now(), body))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Sprintf("the CRM answered %s: %s", resp.Status, bytes.TrimSpace(answer))
	}
	return resp.StatusCode, ""
}
