// Package ingest is the one way engagement and enrolments enter nurture:
// store first (idempotent on the event ID), then SignalWithStart the lead's
// workflow. The starter uses it now and the webhook receiver will; a caller
// answers "accepted" only when both steps succeeded, so a sender retries
// anything not fully taken, and the retry is stored once and deduplicated by
// the workflow.
//
// It also applies the journey's entry and re-entry rules, because they are
// about whether a journey starts at all, which no workflow can decide:
//   - an enrolment without a stage starts where the entry rule for the
//     lead's source says;
//   - an event for a lead in a journey is signalled to it;
//   - an event for a lead never enrolled enrols it only when an entry rule
//     names the event (then at the rule's stage); otherwise it is stored;
//   - an event for a lead whose journey ended is stored, and does not start
//     the journey again: re-entry is an enrolment, under the re-entry rule.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/journeys"
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
	// Now is the clock for re-entry rules; time.Now when nil.
	Now func() time.Time
}

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// suppresses reports whether an event stops all mail to the address at once,
// before the workflow has even seen it.
func suppresses(t lead.EventType) bool {
	return t == lead.Unsubscribe || t == lead.HardBounce || t == lead.SpamComplaint
}

// ErrReentry is returned when a journey's re-entry rule refuses a lead.
var ErrReentry = errors.New("re-entry not allowed")

// Enroll stores the lead's profile and enrols it in a journey (the default
// when journeyID is empty), at startStage or where the journey's entry rule
// for the lead's source says.
func (in *Intake) Enroll(ctx context.Context, p lead.Profile, journeyID, startStage string) (lead.Profile, error) {
	if err := p.Normalize(); err != nil {
		return p, err
	}
	if journeyID == "" {
		journeyID = in.DefaultJourney
	}
	j, _, err := store.LoadJourney(ctx, in.DB, journeyID, 0)
	if err != nil {
		return p, err
	}
	if startStage != "" && !j.HasStage(startStage) {
		return p, fmt.Errorf("journey %q has no stage %q", journeyID, startStage)
	}
	if startStage == "" {
		startStage = entryStage(&j, p.Source, "")
	}
	starts := true
	prev, err := store.GetLead(ctx, in.DB, p.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return p, err
	default:
		if err := in.mayEnter(&j, prev); err != nil {
			return p, err
		}
		// Already in this journey: the enrolment only updates the profile,
		// and the pinned version stays.
		starts = prev.JourneyID == "" || ended(prev.Lifecycle)
	}
	if err := store.UpsertLead(ctx, in.DB, p); err != nil {
		return p, err
	}
	if starts {
		// Recorded now, not when the workflow loads its version, so an
		// event arriving in between finds the lead in its journey.
		if err := store.SetLeadJourney(ctx, in.DB, p.ID, journeyID, 0); err != nil {
			return p, err
		}
	}
	_, err = workflows.Enroll(ctx, in.Temporal, in.TaskQueue, workflows.Input{
		Lead: p, JourneyID: journeyID, StartStage: startStage, TimeScale: in.TimeScale,
	})
	return p, err
}

// mayEnter applies the re-entry rule to a lead that is already known.
func (in *Intake) mayEnter(j *journeys.Journey, prev store.LeadRow) error {
	if prev.JourneyID == "" {
		return nil
	}
	if !ended(prev.Lifecycle) {
		if prev.JourneyID != j.ID {
			return fmt.Errorf("lead %s is in journey %q (%s); it cannot be in two journeys at once", prev.Profile.Email, prev.JourneyID, prev.Lifecycle)
		}
		return nil // already in it: the enrolment updates its profile
	}
	if prev.JourneyID != j.ID {
		return nil // a different journey is a new start, not a re-entry
	}
	r := j.Reentry
	if r == nil || !r.Allowed {
		return fmt.Errorf("%w: lead %s finished journey %q (%s) and the journey does not allow re-entry (add reentry: {allowed: true} to it)",
			ErrReentry, prev.Profile.Email, j.ID, prev.Lifecycle)
	}
	if r.After != "" {
		if at := prev.UpdatedAt.Add(r.After.Value()); in.now().Before(at) {
			return fmt.Errorf("%w: lead %s finished journey %q on %s and may re-enter after %s (from %s)",
				ErrReentry, prev.Profile.Email, j.ID, prev.UpdatedAt.Format(time.DateOnly), r.After, at.Format(time.DateOnly))
		}
	}
	return nil
}

func ended(lifecycle string) bool {
	switch lifecycle {
	case workflows.LifecycleExited, workflows.LifecycleSQL, workflows.LifecycleDisqualified:
		return true
	}
	return false
}

// entryStage finds the stage an entry rule gives a lead from a source or
// for an event; "" is the first stage.
func entryStage(j *journeys.Journey, source string, event lead.EventType) string {
	for _, e := range j.Entry {
		if (e.Source != "" && strings.EqualFold(e.Source, source)) || (e.Event != "" && e.Event == event) {
			return e.Stage
		}
	}
	return ""
}

// Recorded says what became of an event.
type Recorded struct {
	// New is false for an event stored before (a retried delivery).
	New bool
	// Delivered is true when the event went to a journey.
	Delivered bool
	// Why explains an event that was stored but not delivered.
	Why string
}

// Record stores an event and delivers it to the lead's journey, by the
// rules in the package comment. A duplicate is delivered again all the
// same, since its first delivery may have stored but not signalled.
func (in *Intake) Record(ctx context.Context, ev lead.Event) (Recorded, error) {
	var rec Recorded
	if err := ev.Validate(); err != nil {
		return rec, err
	}
	l, err := store.GetLead(ctx, in.DB, ev.LeadID)
	if errors.Is(err, store.ErrNotFound) {
		return rec, fmt.Errorf("lead %s is unknown; enrol it first", ev.LeadID)
	}
	if err != nil {
		return rec, err
	}
	if rec.New, err = store.InsertEvent(ctx, in.DB, ev); err != nil {
		return rec, err
	}
	if suppresses(ev.Type) {
		if err := store.Suppress(ctx, in.DB, l.Profile.Email, string(ev.Type)); err != nil {
			return rec, err
		}
	}
	switch {
	case l.JourneyID != "" && ended(l.Lifecycle):
		rec.Why = fmt.Sprintf("the lead's journey %q has ended (%s); it is not started again by an event", l.JourneyID, l.Lifecycle)
		return rec, nil
	case l.JourneyID == "":
		j, _, err := store.LoadJourney(ctx, in.DB, in.DefaultJourney, 0)
		if err != nil {
			return rec, err
		}
		if !entersBy(&j, ev.Type) {
			rec.Why = fmt.Sprintf("the lead is in no journey and no entry rule of %q names %s", j.ID, ev.Type)
			return rec, nil
		}
		if _, err := in.Enroll(ctx, l.Profile, j.ID, entryStage(&j, "", ev.Type)); err != nil {
			return rec, err
		}
		l.JourneyID = j.ID
	}
	err = workflows.SendEngagement(ctx, in.Temporal, in.TaskQueue, workflows.Input{
		Lead: l.Profile, JourneyID: l.JourneyID, TimeScale: in.TimeScale,
	}, ev)
	rec.Delivered = err == nil
	return rec, err
}

func entersBy(j *journeys.Journey, t lead.EventType) bool {
	for _, e := range j.Entry {
		if e.Event == t {
			return true
		}
	}
	return false
}
