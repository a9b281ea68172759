package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Verdict gives sales' verdict to the lead's journey (the Update, which
// the journey validates). When the journey is not running, the error says
// why from what PostgreSQL holds, most often that sales answered already
// and the journey ended on that answer: ErrUnknownLead for a lead nurture
// does not know, ErrConflict otherwise. A refusal by the journey wraps
// workflows.ErrRefused.
func (in *Intake) Verdict(ctx context.Context, leadID string, fb workflows.SalesFeedback) (workflows.VerdictResult, error) {
	res, err := workflows.SendVerdict(ctx, in.Temporal, leadID, fb)
	if !errors.Is(err, workflows.ErrNoJourney) {
		return res, err
	}
	l, err := store.GetLead(ctx, in.DB, leadID)
	if errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("%w: lead %s is unknown", ErrUnknownLead, leadID)
	}
	if err != nil {
		return res, err
	}
	hs, err := store.ListHandoffs(ctx, in.DB, leadID)
	if err != nil {
		return res, err
	}
	var h *store.Handoff
	for i := range hs {
		if fb.HandoffID == 0 || hs[i].ID == fb.HandoffID {
			h = &hs[i]
		}
	}
	ended := "the lead's journey has ended"
	if l.ExitReason != "" {
		ended += " (" + l.ExitReason + ")"
	}
	switch {
	case h == nil && fb.HandoffID != 0:
		return res, fmt.Errorf("%w: hand-off #%d is not one of this lead's", ErrConflict, fb.HandoffID)
	case h == nil:
		return res, fmt.Errorf("%w: the lead was never handed off to sales; %s", ErrConflict, ended)
	case h.Verdict != "":
		return res, fmt.Errorf("%w: hand-off #%d was answered already: %s (the lead is %s)", ErrConflict, h.ID, h.Verdict, l.Lifecycle)
	}
	return res, fmt.Errorf("%w: hand-off #%d can no longer be answered: %s", ErrConflict, h.ID, ended)
}
