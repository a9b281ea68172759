// Package ingest is the one way engagement and enrolments enter nurture:
// store first (idempotent on the event ID), then SignalWithStart the lead's
// workflow. The starter uses it now and the webhook receiver will; a caller
// answers "accepted" only when both steps succeeded, so a sender retries
// anything not fully taken, and the retry is stored once and deduplicated by
// the workflow.
package ingest

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Intake stores and signals.
type Intake struct {
	DB        store.DB
	Temporal  client.Client
	TaskQueue string
	// DefaultJourney is where a lead with no journey yet is enrolled.
	DefaultJourney string
	// TimeScale is passed to journeys this intake starts (demo and QA).
	TimeScale float64
}

// suppressing events stop all mail to the address at once, before the
// workflow has even seen them.
var suppressing = map[lead.EventType]bool{lead.Unsubscribe: true, lead.HardBounce: true, lead.SpamComplaint: true}

// Enroll stores the lead's profile and enrols it in a journey (the default
// when journeyID is empty).
func (in *Intake) Enroll(ctx context.Context, p lead.Profile, journeyID, startStage string) (lead.Profile, error) {
	if err := p.Normalize(); err != nil {
		return p, err
	}
	if journeyID == "" {
		journeyID = in.DefaultJourney
	}
	if _, _, err := store.LoadJourney(ctx, in.DB, journeyID, 0); err != nil {
		return p, err
	}
	if err := store.UpsertLead(ctx, in.DB, p); err != nil {
		return p, err
	}
	_, err := workflows.Enroll(ctx, in.Temporal, in.TaskQueue, workflows.Input{
		Lead: p, JourneyID: journeyID, StartStage: startStage, TimeScale: in.TimeScale,
	})
	return p, err
}

// Record stores an event and delivers it to the lead's journey. It reports
// whether the event was new; a duplicate is signalled again all the same,
// since its first delivery may have stored but not signalled.
func (in *Intake) Record(ctx context.Context, ev lead.Event) (bool, error) {
	if err := ev.Validate(); err != nil {
		return false, err
	}
	l, err := store.GetLead(ctx, in.DB, ev.LeadID)
	if errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("lead %s is unknown; enrol it first", ev.LeadID)
	}
	if err != nil {
		return false, err
	}
	isNew, err := store.InsertEvent(ctx, in.DB, ev)
	if err != nil {
		return false, err
	}
	if suppressing[ev.Type] {
		if err := store.Suppress(ctx, in.DB, l.Profile.Email, string(ev.Type)); err != nil {
			return isNew, err
		}
	}
	journeyID := l.JourneyID
	if journeyID == "" {
		journeyID = in.DefaultJourney
	}
	err = workflows.SendEngagement(ctx, in.Temporal, in.TaskQueue, workflows.Input{
		Lead: l.Profile, JourneyID: journeyID, TimeScale: in.TimeScale,
	}, ev)
	return isNew, err
}
