package webhook

import (
	"context"
	"errors"
	"net/http"

	"github.com/nurture-dev/nurture/ingest"

	"github.com/nurture-dev/nurture/workflows"
)

// VerdictIn is the CRM's answer to a hand-off.
type VerdictIn struct {
	LeadID     string `json:"lead_id,omitempty"`
	Email      string `json:"email,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	// HandoffID names the hand-off answered; 0 answers the open one.
	HandoffID int64  `json:"handoff_id,omitempty"`
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason,omitempty"`
	// Owner is the sales rep who decided.
	Owner string `json:"owner,omitempty"`
}

// postVerdict gives the CRM's verdict to the lead's journey, as the Update
// the journey validates: 200 with what the journey did, 409 with why it
// refused (no open hand-off, already answered, another hand-off; for a
// journey that has ended, why), 404 for a lead nurture does not know.
func (s *Server) postVerdict(w http.ResponseWriter, r *http.Request, body []byte) {
	var in VerdictIn
	if err := decodeJSON(body, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	fb := workflows.SalesFeedback{HandoffID: in.HandoffID, Verdict: workflows.Verdict(in.Verdict), Reason: in.Reason, Owner: in.Owner}
	if err := fb.Validate(); err != nil {
		s.fail(w, r, invalidf("%v", err))
		return
	}
	id, err := s.leadID(r.Context(), in.LeadID, in.Email, in.ExternalID, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, status, msg := s.verdict(r.Context(), id, fb)
	if status != http.StatusOK {
		if status == http.StatusServiceUnavailable {
			s.Log.Warn("verdict not delivered; the CRM is asked to retry", "route", r.Pattern, "error", msg)
			writeProblem(w, status, "nurture cannot take this now (its workflow engine is unavailable); retry later")
			return
		}
		writeProblem(w, status, msg)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// verdict sends a verdict and says how it went, as a status and a message
// for people: the journey's own reason when it refused, what PostgreSQL
// says when the journey has ended.
func (s *Server) verdict(ctx context.Context, leadID string, fb workflows.SalesFeedback) (workflows.VerdictResult, int, string) {
	res, err := s.Intake.Verdict(ctx, leadID, fb)
	switch {
	case err == nil:
		return res, http.StatusOK, ""
	case errors.Is(err, workflows.ErrRefused):
		return res, http.StatusConflict, said(err, workflows.ErrRefused)
	case errors.Is(err, ingest.ErrConflict):
		return res, http.StatusConflict, said(err, ingest.ErrConflict)
	case errors.Is(err, ingest.ErrUnknownLead):
		return res, http.StatusNotFound, said(err, ingest.ErrUnknownLead)
	}
	return res, http.StatusServiceUnavailable, err.Error()
}
