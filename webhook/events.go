package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
)

// MaxBatch bounds the events in one batch request.
const MaxBatch = 500

// How far an event's time may be from now: a little ahead (clocks
// differ), well behind (events may arrive late, and out of order; they are
// scored when they arrive).
const (
	maxAhead  = 24 * time.Hour
	maxBehind = 400 * 24 * time.Hour
)

// EventIn is an engagement event as senders post it.
type EventIn struct {
	// ID is the sender's own event ID: a retried delivery counts once.
	ID   string `json:"id"`
	Type string `json:"type"`
	// The lead, one of: nurture's lead ID, its address, its CRM ID.
	LeadID     string `json:"lead_id,omitempty"`
	Email      string `json:"email,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	// Time is when it happened (RFC 3339); now when absent.
	Time       string            `json:"time,omitempty"`
	Source     string            `json:"source,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// EventOut says what became of an event.
type EventOut struct {
	ID     string `json:"id"`
	LeadID string `json:"lead_id"`
	// New is false for an event stored before: a retry, counted once.
	New bool `json:"new"`
	// Delivered is true when the event reached the lead's journey.
	Delivered bool `json:"delivered"`
	// Detail says why an event was stored and not delivered.
	Detail string `json:"detail,omitempty"`
}

// postEvent takes one event: 202 when it is stored and signalled (or
// stored, and not delivered for a reason given), 4xx for a mistake, 503 to
// retry.
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	var in EventIn
	if err := decodeJSON(body, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.record(r.Context(), in, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, out)
}

// BatchIn is several events in one request.
type BatchIn struct {
	Events []EventIn `json:"events"`
}

// BatchResult is one event's answer in a batch: Status is the status the
// event would have had alone (202, 4xx, or 503 to send it again).
type BatchResult struct {
	Index  int    `json:"index"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	EventOut
}

// postEvents takes up to MaxBatch events and answers per event, in order;
// the request as a whole is 200 once each event has its answer. A sender
// sends again the events answered 503.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, body []byte) {
	var in BatchIn
	if err := decodeJSON(body, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case len(in.Events) == 0:
		s.fail(w, r, badRequest("events: send at least one"))
		return
	case len(in.Events) > MaxBatch:
		s.fail(w, r, badRequest("events: %d in one batch; at most %d", len(in.Events), MaxBatch))
		return
	}
	results := make([]BatchResult, len(in.Events))
	for i, ev := range in.Events {
		out, err := s.record(r.Context(), ev, fmt.Sprintf("events[%d]: ", i))
		results[i] = BatchResult{Index: i, Status: http.StatusAccepted, EventOut: out}
		if err != nil {
			results[i].Status, results[i].Error = classify(err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// record checks one event and hands it to ingest. where prefixes its
// messages with the event's place in a batch ("events[3]: ").
func (s *Server) record(ctx context.Context, in EventIn, where string) (EventOut, error) {
	out := EventOut{ID: in.ID}
	ev, err := s.event(ctx, in, where)
	if err != nil {
		return out, err
	}
	out.LeadID = ev.LeadID
	rec, err := s.Intake.Record(ctx, ev)
	if err != nil {
		return out, err
	}
	out.New, out.Delivered, out.Detail = rec.New, rec.Delivered, rec.Why
	return out, nil
}

// event turns a posted event into a lead event, finding its lead.
func (s *Server) event(ctx context.Context, in EventIn, where string) (lead.Event, error) {
	ev := lead.Event{ID: in.ID, Type: lead.EventType(in.Type), Source: in.Source, Properties: in.Properties}
	if in.Time == "" {
		ev.OccurredAt = s.now().UTC()
	} else {
		t, err := time.Parse(time.RFC3339, in.Time)
		if err != nil {
			return ev, invalidf("%stime %q: write RFC 3339, like 2026-11-23T10:00:00Z", where, in.Time)
		}
		switch d := t.Sub(s.now()); {
		case d > maxAhead:
			return ev, invalidf("%stime %s is %s in the future; more than a day ahead is a mistake", where, in.Time, d.Round(time.Hour))
		case d < -maxBehind:
			return ev, invalidf("%stime %s is more than 400 days ago", where, in.Time)
		}
		ev.OccurredAt = t.UTC()
	}
	id, err := s.leadID(ctx, in.LeadID, in.Email, in.ExternalID, where)
	if err != nil {
		return ev, err
	}
	ev.LeadID = id
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("%w: %s%w", ingest.ErrInvalid, where, err)
	}
	return ev, nil
}

// leadID finds the lead an event or verdict names, by one of its names.
func (s *Server) leadID(ctx context.Context, id, email, externalID, where string) (string, error) {
	n := 0
	for _, v := range []string{id, email, externalID} {
		if v != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return "", invalidf("%sname the lead: lead_id, email or external_id", where)
	case n > 1:
		return "", invalidf("%sname the lead one way: lead_id, email or external_id, not several", where)
	case id != "":
		if len(id) > 64 {
			return "", invalidf("%slead_id is %d bytes; lead IDs are UUIDs", where, len(id))
		}
		return id, nil
	case email != "":
		if len(email) > lead.MaxEmail {
			return "", invalidf("%semail is %d bytes; at most %d", where, len(email), lead.MaxEmail)
		}
		return lead.IDForEmail(email), nil
	}
	if len(externalID) > lead.MaxText {
		return "", invalidf("%sexternal_id is %d bytes; at most %d", where, len(externalID), lead.MaxText)
	}
	l, err := store.FindLead(ctx, s.DB, store.LeadRef{ExternalID: externalID})
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %sno lead has external_id %q", ingest.ErrUnknownLead, where, externalID)
	}
	if err != nil {
		return "", err
	}
	return l.Profile.ID, nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ingest.ErrInvalid, fmt.Sprintf(format, args...))
}
