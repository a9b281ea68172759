// Package ingest is the one way engagement and enrolments enter nurture:
// check, store first (idempotent on the lead and the sender's event ID),
// then deliver to the lead's workflow. The starter uses it now and the
// webhook receiver will; a caller answers "accepted" only when both steps
// succeeded, so a sender retries anything not fully taken, and the retry is
// stored once and deduplicated by the workflow.
//
// Nothing is stored from a call that its checks refuse: sizes and formats
// are checked first (see the limits in package lead).
//
// Who may start a journey is decided by Temporal, not by a read of the
// database followed by an act on it, which races the journey's end:
//   - an event is signalled, never signal-with-started: it reaches the
//     lead's running workflow, or Temporal answers that there is none, and
//     the event is stored and reported "not delivered";
//   - only an enrolment starts a journey. An enrolment of a lead whose
//     earlier journey closed starts another only under the journey's
//     re-entry rule; otherwise the start carries the reuse policy
//     REJECT_DUPLICATE, and Temporal refuses it even if the earlier run
//     closed a moment before;
//   - an event for a lead never enrolled enrols it only when an entry rule
//     names the event (then at the rule's stage), by the same enrolment;
//   - an enrolment without a stage starts where the entry rule for the
//     lead's source says.
//
// An enrolment is marked pending in the lead's row before Temporal is
// asked and cleared once it answered; a mark that stays (the start was
// refused, or its answer lost) is what Reconcile drives again.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/metrics"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Intake stores and delivers.
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
	// Logf, when set, reports what Intake notices but need not fail for.
	Logf func(format string, args ...any)
	// ErasedBefore makes journeys of a lead that closed before the lead
	// was erased not count against re-entry: the lead is a new one. The
	// demo erases its sample leads before each run and sets it; nothing
	// else does.
	ErasedBefore bool
	// Metrics counts the events stored; nil counts nothing.
	Metrics *metrics.Metrics
}

func (in *Intake) logf(format string, args ...any) {
	if in.Logf != nil {
		in.Logf(format, args...)
	}
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

// Errors that are the caller's to fix; anything else Enroll and Record
// return is the system's (PostgreSQL or Temporal unavailable): retry.
var (
	// ErrReentry is returned when a journey's re-entry rule refuses a lead.
	ErrReentry = errors.New("re-entry not allowed")
	// ErrInvalid wraps what is wrong with a lead, an event or the journey
	// and stage asked for.
	ErrInvalid = errors.New("invalid")
	// ErrUnknownLead says an event names a lead nurture does not know.
	ErrUnknownLead = errors.New("unknown lead")
	// ErrConflict says the lead is where the request cannot apply (in
	// another journey).
	ErrConflict = errors.New("conflict")
)

// invalid marks err as the caller's mistake, keeping its words.
func invalid(err error) error { return fmt.Errorf("%w: %w", ErrInvalid, err) }

// Enrolled says what an enrolment did.
type Enrolled struct {
	Profile lead.Profile
	// Started is true when a journey started; false when the enrolment
	// reached a journey already running (its profile was updated).
	Started bool
	RunID   string
}

// Enroll stores the lead's profile and enrols it in a journey (the default
// when journeyID is empty), at startStage or where the journey's entry rule
// for the lead's source says. A lead already in the journey gets its
// profile updated; one whose journey ended enters again only as the
// journey's re-entry rule allows.
func (in *Intake) Enroll(ctx context.Context, p lead.Profile, journeyID, startStage string) (Enrolled, error) {
	if err := p.Normalize(); err != nil {
		return Enrolled{Profile: p}, invalid(err)
	}
	if journeyID == "" {
		journeyID = in.DefaultJourney
	}
	j, _, err := store.LoadJourney(ctx, in.DB, journeyID, 0)
	if errors.Is(err, store.ErrNotFound) {
		return Enrolled{Profile: p}, invalid(err)
	}
	if err != nil {
		return Enrolled{Profile: p}, err
	}
	if startStage != "" && !j.HasStage(startStage) {
		return Enrolled{Profile: p}, invalid(fmt.Errorf("journey %q has no stage %q", journeyID, startStage))
	}
	if startStage == "" {
		startStage = entryStage(&j, p.Source, "")
	}
	return in.enroll(ctx, p, &j, startStage)
}

func (in *Intake) enroll(ctx context.Context, p lead.Profile, j *journeys.Journey, startStage string) (Enrolled, error) {
	res := Enrolled{Profile: p}
	prev, err := store.GetLead(ctx, in.DB, p.ID)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	run, err := in.describe(ctx, p.ID)
	if err != nil {
		return res, err
	}
	reenter := false
	if run.closed && in.ErasedBefore && !known {
		// Erased: what Temporal keeps belongs to the lead that was.
		run.closed, reenter = false, true
	}
	switch {
	case run.running:
		if known && prev.JourneyID != "" && prev.JourneyID != j.ID && !ended(prev.Lifecycle) {
			return res, fmt.Errorf("%w: lead %s is in journey %q (%s); it cannot be in two journeys at once", ErrConflict, p.Email, prev.JourneyID, prev.Lifecycle)
		}
	case run.closed:
		if err := in.mayReenter(j, p, prev.JourneyID, run.closeTime); err != nil {
			return res, err
		}
		reenter = true
	case known && prev.EndedAt != nil:
		// Temporal no longer keeps the ended run (retention); the
		// database remembers when it ended.
		if err := in.mayReenter(j, p, prev.JourneyID, *prev.EndedAt); err != nil {
			return res, err
		}
		reenter = true
	}
	if err := store.UpsertLead(ctx, in.DB, p); errors.Is(err, store.ErrErased) {
		return res, fmt.Errorf("%w: %w", ErrConflict, err)
	} else if err != nil {
		return res, err
	}
	if err := store.SetEnrolPending(ctx, in.DB, p.ID, j.ID, startStage); err != nil {
		return res, err
	}
	wr, err := workflows.Enroll(ctx, in.Temporal, in.TaskQueue, workflows.Input{
		Lead: p, JourneyID: j.ID, StartStage: startStage, TimeScale: in.TimeScale,
	}, reenter)
	if errors.Is(err, workflows.ErrJourneyEnded) {
		// Temporal kept us from starting again; nothing is pending.
		return res, errors.Join(fmt.Errorf("%w: %w", ErrReentry, err), store.ClearEnrolPending(ctx, in.DB, p.ID, j.ID))
	}
	if err != nil {
		return res, fmt.Errorf("%w (the enrolment is recorded as pending; starter reconcile asks Temporal again)", err)
	}
	res.RunID = wr.GetRunID()
	res.Started = !run.running || res.RunID != run.runID
	return res, store.ClearEnrolPending(ctx, in.DB, p.ID, j.ID)
}

// journeyRun is what Temporal says of a lead's workflow.
type journeyRun struct {
	running, closed bool
	runID           string
	status          enumspb.WorkflowExecutionStatus
	closeTime       time.Time
}

func (in *Intake) describe(ctx context.Context, leadID string) (journeyRun, error) {
	d, err := in.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(leadID), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return journeyRun{}, nil
	}
	if err != nil {
		return journeyRun{}, fmt.Errorf("ask temporal about lead %s: %w", leadID, err)
	}
	info := d.GetWorkflowExecutionInfo()
	r := journeyRun{runID: info.GetExecution().GetRunId(), status: info.GetStatus()}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		r.running = true
	} else {
		r.closed = true
		r.closeTime = info.GetCloseTime().AsTime()
	}
	return r, nil
}

// mayReenter applies the re-entry rule to a lead whose journey ended.
func (in *Intake) mayReenter(j *journeys.Journey, p lead.Profile, lastJourney string, endedAt time.Time) error {
	if lastJourney != "" && lastJourney != j.ID {
		return nil // a different journey is a new start, not a re-entry
	}
	r := j.Reentry
	if r == nil || !r.Allowed {
		return fmt.Errorf("%w: lead %s finished journey %q and the journey does not allow re-entry (add reentry: {allowed: true} to it)",
			ErrReentry, p.Email, j.ID)
	}
	if r.After != "" {
		if at := endedAt.Add(r.After.Value()); in.now().Before(at) {
			return fmt.Errorf("%w: lead %s finished journey %q on %s and may re-enter after %s (from %s)",
				ErrReentry, p.Email, j.ID, endedAt.Format(time.DateOnly), r.After, at.Format(time.DateOnly))
		}
	}
	return nil
}

func ended(lifecycle string) bool {
	switch workflows.Lifecycle(lifecycle) {
	case workflows.LifecycleExited, workflows.LifecycleSQL, workflows.LifecycleDisqualified, workflows.LifecycleGoal:
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
	// Enrolled is true when the event enrolled the lead (an entry rule).
	Enrolled bool
	// Why explains an event that was stored but not delivered.
	Why string
}

// Record stores an event and delivers it to the lead's journey, by the
// rules in the package comment. A duplicate is delivered again all the
// same, since its first delivery may have stored but not signalled; the
// journey counts it once.
func (in *Intake) Record(ctx context.Context, ev lead.Event) (Recorded, error) {
	var rec Recorded
	if err := ev.Validate(); err != nil {
		return rec, invalid(err)
	}
	// One round trip: the lead must be known, and the event is stored.
	addr, isNew, err := store.StoreEvent(ctx, in.DB, ev)
	if errors.Is(err, store.ErrErased) {
		return rec, fmt.Errorf("%w: %w", ErrUnknownLead, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		return rec, fmt.Errorf("%w: lead %s is unknown; enrol it first", ErrUnknownLead, ev.LeadID)
	}
	if err != nil {
		return rec, err
	}
	rec.New = isNew
	if isNew {
		in.Metrics.EventReceived(string(ev.Type))
	}
	if suppresses(ev.Type) {
		if err := store.Suppress(ctx, in.DB, addr, string(ev.Type)); err != nil {
			return rec, err
		}
	}
	err = workflows.DeliverEvent(ctx, in.Temporal, ev.LeadID, ev)
	if err == nil {
		rec.Delivered = true
		if !rec.New {
			// A retry: an earlier try may have marked it undelivered.
			if err := store.MarkDelivered(ctx, in.DB, ev.LeadID, ev.ID); err != nil {
				in.logf("event %s delivered but its undelivered mark stays: %v", ev.ID, err)
			}
		}
		return rec, nil
	}
	if !errors.Is(err, workflows.ErrNoJourney) {
		// Stored, not delivered: a sender that retries delivers it; for
		// one that does not (a click), Reconcile will.
		if merr := store.MarkUndelivered(context.WithoutCancel(ctx), in.DB, ev.LeadID, ev.ID); merr != nil {
			return rec, errors.Join(err, merr)
		}
		return rec, err
	}
	// No journey runs for the lead. Did one run? Temporal knows; the
	// database knows beyond Temporal's retention.
	run, err := in.describe(ctx, ev.LeadID)
	if err != nil {
		return rec, err
	}
	l, err := store.GetLead(ctx, in.DB, ev.LeadID)
	if err != nil {
		return rec, err
	}
	if run.closed || l.JourneyID != "" || l.EndedAt != nil {
		rec.Why = "journey ended"
		if run.closed {
			rec.Why = fmt.Sprintf("journey ended (%s)", statusName(run.status))
		}
		return rec, nil
	}
	j, _, err := store.LoadJourney(ctx, in.DB, in.DefaultJourney, 0)
	if err != nil {
		return rec, err
	}
	if !entersBy(&j, ev.Type) {
		rec.Why = fmt.Sprintf("the lead is in no journey and no entry rule of %q names %s", j.ID, ev.Type)
		return rec, nil
	}
	if _, err := in.enroll(ctx, l.Profile, &j, entryStage(&j, "", ev.Type)); err != nil {
		if errors.Is(err, ErrReentry) {
			rec.Why = "journey ended"
			return rec, nil
		}
		return rec, err
	}
	rec.Enrolled = true
	if err := workflows.DeliverEvent(ctx, in.Temporal, ev.LeadID, ev); err != nil {
		return rec, err
	}
	rec.Delivered = true
	return rec, nil
}

func entersBy(j *journeys.Journey, t lead.EventType) bool {
	for _, e := range j.Entry {
		if e.Event == t {
			return true
		}
	}
	return false
}
