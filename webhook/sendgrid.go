package webhook

import (
	"crypto/ecdsa"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/sendgrid"
	"github.com/nurture-dev/nurture/store"
)

// SendGridWindow is how far the timestamp of a SendGrid request may be
// from now. SendGrid retries a refused batch for 24 hours and does not say
// that a retry is signed anew; every action is idempotent, so a replay
// inside the window changes nothing, while a short window could refuse the
// retries that carry the unsubscribes and bounces of an outage.
const SendGridWindow = 25 * time.Hour

// ParseSendGridKey reads the verification key of SendGrid's signed event
// webhook; empty means SendGrid's events are refused.
func ParseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return sendgrid.ParsePublicKey(s)
}

// SendGridOut counts what a SendGrid request did.
type SendGridOut struct {
	Events int `json:"events"`
	// Recorded counts events stored for the first time.
	Recorded int `json:"recorded"`
	// Repeated counts events stored before: SendGrid's retry, a no-op.
	Repeated int `json:"repeated"`
	// Delivered counts delivered events: each marks its send delivered
	// (and settles it if it was ambiguous); no engagement to record.
	Delivered int `json:"delivered"`
	// Suppressed counts events that only suppress the address (SendGrid
	// dropped a message because the address is on its suppression list).
	Suppressed int `json:"suppressed"`
	Ignored    int `json:"ignored"`
}

// postSendGrid takes SendGrid's Event Webhook: a signed batch of events,
// each mapped by package sendgrid. A delivered event settles a send (an
// ambiguous one too); a hard bounce, spam report or unsubscribe suppresses
// the address across all journeys at once; opens and clicks are recorded
// for the lead's journey. Unreadable elements are logged and skipped
// (SendGrid would send the batch again, and again, for ever); an outage
// answers 503 and SendGrid sends the whole batch again, which counts once.
// Clicks on nurture's own tracked links are skipped: nurture recorded
// them when it redirected the reader.
func (s *Server) postSendGrid(w http.ResponseWriter, r *http.Request) {
	if s.SendGridKey == nil {
		writeProblem(w, http.StatusNotFound, "SendGrid's event webhook is not set up here (SENDGRID_WEBHOOK_PUBLIC_KEY)")
		return
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = sendgrid.Verify(s.SendGridKey, r.Header.Get(sendgrid.SignatureHeader), r.Header.Get(sendgrid.TimestampHeader), body, s.now(), SendGridWindow)
	var refused *sendgrid.VerifyError
	if errors.As(err, &refused) {
		writeProblem(w, http.StatusUnauthorized, refused.Error())
		return
	}
	if err != nil {
		s.Log.Error("SendGrid verification misconfigured", "error", err)
		writeProblem(w, http.StatusInternalServerError, "the receiver cannot verify SendGrid's signature")
		return
	}
	events, err := sendgrid.Parse(body, sendgrid.Limits{MaxBody: int(s.maxBody())})
	switch {
	case errors.Is(err, sendgrid.ErrBodyTooLarge), errors.Is(err, sendgrid.ErrTooManyEvents):
		writeProblem(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case errors.Is(err, sendgrid.ErrBody) && len(events) == 0:
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	out := SendGridOut{Events: len(events)}
	for _, ev := range events {
		if ev.Err != nil {
			s.Log.Warn("SendGrid event unreadable; skipped", "index", ev.Index, "error", ev.Err)
			out.Ignored++
			continue
		}
		act, ok := ev.Map()
		if !ok {
			out.Ignored++
			continue
		}
		if act.Delivered != "" {
			if _, err := store.MarkProviderDelivered(ctx, s.DB, act.Delivered); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if act.Suppress != "" {
			if err := store.Suppress(ctx, s.DB, act.Email, string(act.Suppress)); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if act.Event.Type == "" || (act.Event.Type == lead.EmailClick && s.ownClick(ev.URL)) {
			switch {
			case act.Delivered != "":
				out.Delivered++
			case act.Suppress != "":
				out.Suppressed++
			default:
				out.Ignored++
			}
			continue
		}
		rec, err := s.Intake.Record(ctx, act.Event)
		if err != nil {
			if errors.Is(err, ingest.ErrUnknownLead) || errors.Is(err, ingest.ErrInvalid) {
				s.Log.Info("SendGrid event for no lead nurture knows; skipped", "kind", ev.Kind)
				out.Ignored++
				continue
			}
			s.fail(w, r, err)
			return
		}
		if rec.New {
			out.Recorded++
		} else {
			out.Repeated++
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// ownClick reports whether a clicked URL is one of nurture's tracked
// links, which nurture counted itself.
func (s *Server) ownClick(u string) bool {
	base := strings.TrimRight(s.Links.BaseURL, "/")
	return base != "" && strings.HasPrefix(u, base+links.ClickPath)
}
