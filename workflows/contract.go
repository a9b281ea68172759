// Package workflows holds the LeadJourney workflow and its message contract:
// the signal and query names and payload types that the starter, the webhook
// receiver and the workflow share. They are defined here once and imported by
// the others.
package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// Message names. Engagement and enrolment are signals (fire and forget,
// deduplicated by the workflow); sales verdicts and task outcomes are
// Updates, so the caller learns at once whether the journey took them.
const (
	// SignalEnroll carries an Enrollment.
	SignalEnroll = "enroll"
	// SignalEngagement carries a lead.Event.
	SignalEngagement = "engagement"
	// UpdateVerdict carries a SalesFeedback and answers a VerdictResult.
	UpdateVerdict = "sales-verdict"
	// UpdateTaskOutcome carries a TaskOutcome and answers a
	// TaskOutcomeResult.
	UpdateTaskOutcome = "report-task-outcome"
	// UpdateRemove carries a Removal and answers a RemovalResult.
	UpdateRemove = "remove-lead"
	// UpdateMigrate carries a Migration and answers a MigrationResult.
	UpdateMigrate = "migrate-lead"
	// QueryStatus returns a Status.
	QueryStatus = "status"

	// SignalSalesFeedback and SignalTaskOutcome are how verdicts and
	// outcomes arrived before they were Updates. Workflows still accept
	// them, so histories recorded then replay; nothing sends them now.
	SignalSalesFeedback = "sales-feedback"
	SignalTaskOutcome   = "task-outcome"
)

// WorkflowID is the ID of a lead's workflow: one per lead, the lead's entity.
func WorkflowID(leadID string) string { return lead.WorkflowID(leadID) }

// Input starts a lead's journey. A journey version of 0 means the latest
// published one; the workflow pins the version it loaded.
type Input struct {
	Lead           lead.Profile `json:"lead"`
	JourneyID      string       `json:"journey_id"`
	JourneyVersion int          `json:"journey_version,omitempty"`
	// StartStage lets a source put a lead further on (a demo-request form
	// starts at evaluation); empty starts at the first stage.
	StartStage string `json:"start_stage,omitempty"`
	// TimeScale runs journey time faster than real time: 86400 makes a day
	// last a second (demo and QA). 0 or 1 is real time.
	TimeScale float64 `json:"time_scale,omitempty"`
	// Carried is the state handed over by continue-as-new.
	Carried *State `json:"carried,omitempty"`
}

// Enrollment enrols a lead, or updates its profile when it is already in a
// journey.
type Enrollment struct {
	Lead       lead.Profile `json:"lead"`
	JourneyID  string       `json:"journey_id"`
	StartStage string       `json:"start_stage,omitempty"`
}

// Verdict is sales' answer to a hand-off.
type Verdict string

// Sales verdicts on a hand-off.
const (
	VerdictAccepted Verdict = "accepted"
	VerdictRejected Verdict = "rejected"
	VerdictRecycle  Verdict = "recycle"
)

// Verdicts lists the verdicts sales can give.
func Verdicts() []Verdict { return []Verdict{VerdictAccepted, VerdictRejected, VerdictRecycle} }

// SalesFeedback is sales' answer to a hand-off.
type SalesFeedback struct {
	// HandoffID names the hand-off answered; 0 answers the current one.
	HandoffID int64   `json:"handoff_id,omitempty"`
	Verdict   Verdict `json:"verdict"`
	Reason    string  `json:"reason,omitempty"`
	// Owner is who in sales decided (a CRM user, "email link", "cli").
	Owner string `json:"owner,omitempty"`
}

// MaxNote bounds a verdict's reason and a task's note, so a person's text
// never makes a message Temporal refuses.
const MaxNote = 2000

// Validate checks the verdict.
func (f SalesFeedback) Validate() error {
	switch f.Verdict {
	case VerdictAccepted, VerdictRejected, VerdictRecycle:
	default:
		return fmt.Errorf("verdict %q: use accepted, rejected or recycle", f.Verdict)
	}
	if len(f.Reason) > MaxNote {
		return fmt.Errorf("verdict reason is %d bytes; at most %d", len(f.Reason), MaxNote)
	}
	if len(f.Owner) > 200 {
		return fmt.Errorf("verdict owner is %d bytes; at most 200", len(f.Owner))
	}
	return nil
}

// VerdictResult is what the journey did with a verdict.
type VerdictResult struct {
	HandoffID int64   `json:"handoff_id"`
	Verdict   Verdict `json:"verdict"`
	// Lifecycle, JourneyID and Stage are where the lead is now: sql,
	// disqualified, or back in nurture (a recycle) at that journey and
	// stage.
	Lifecycle Lifecycle `json:"lifecycle"`
	JourneyID string    `json:"journey_id"`
	Stage     string    `json:"stage"`
}

// TaskOutcome is what a person reports about a task a journey gave them.
type TaskOutcome struct {
	// TaskID names the task answered; 0 answers the open one.
	TaskID  int64  `json:"task_id"`
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
}

// Validate checks what a person can get wrong before it reaches a journey.
func (o TaskOutcome) Validate() error {
	if o.Outcome == "" {
		return errors.New("task outcome is required (one of the task's outcomes, like reached or no_answer)")
	}
	if len(o.Outcome) > 64 {
		return fmt.Errorf("task outcome is %d bytes; outcomes are short names", len(o.Outcome))
	}
	if len(o.Note) > MaxNote {
		return fmt.Errorf("task note is %d bytes; at most %d", len(o.Note), MaxNote)
	}
	return nil
}

// TaskOutcomeResult is what the journey did with a task's outcome.
type TaskOutcomeResult struct {
	TaskID  int64  `json:"task_id"`
	Outcome string `json:"outcome"`
	// Next is the step the lead goes on to.
	Next string `json:"next,omitempty"`
}

// Removal takes a lead out of its journey: it exits at once, wherever it
// is (waiting, or handed off and waiting for sales).
type Removal struct {
	// Reason is kept with the lead's exit: a removal says why.
	Reason string `json:"reason"`
}

// Validate checks the removal.
func (m Removal) Validate() error {
	if strings.TrimSpace(m.Reason) == "" {
		return errors.New("say why the lead is removed (-reason): it is kept with its exit")
	}
	if len(m.Reason) > MaxNote {
		return fmt.Errorf("removal reason is %d bytes; at most %d", len(m.Reason), MaxNote)
	}
	return nil
}

// RemovalResult is where the lead was when it was removed.
type RemovalResult struct {
	JourneyID string `json:"journey_id"`
	Step      string `json:"step"`
	Stage     string `json:"stage"`
	// Lifecycle is what the lead was before: nurturing, mql or handed_off.
	Lifecycle Lifecycle `json:"lifecycle"`
}

// ErrRemovalWaiting says a removal was taken by the journey, which is busy
// with a send (one held by a paused journey waits for resume): the lead
// exits when the send is done.
var ErrRemovalWaiting = errors.New("the journey took the removal and is in the middle of a send (a paused journey holds its sends); the lead exits when the send is done")

// RemoveLead takes a lead out of its journey as an Update and returns
// where it was; a lead whose journey has ended is refused with why. When
// the journey has taken the removal but not carried it out within wait,
// the answer is ErrRemovalWaiting.
func RemoveLead(ctx context.Context, c client.Client, leadID string, m Removal, wait time.Duration) (RemovalResult, error) {
	if err := m.Validate(); err != nil {
		return RemovalResult{}, err
	}
	return updateWithin[RemovalResult](ctx, c, leadID, UpdateRemove, m, wait, ErrRemovalWaiting)
}

// updateWithin sends an Update and waits up to wait for its outcome; an
// Update the journey took and has not completed by then is answered with
// waiting.
func updateWithin[Out any](ctx context.Context, c client.Client, leadID, name string, arg any, wait time.Duration, waiting error) (Out, error) {
	var res Out
	ctx = lead.WithID(ctx, leadID)
	// Acceptance needs a worker: with none polling it would wait forever.
	acceptCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	h, err := c.UpdateWorkflow(acceptCtx, client.UpdateWorkflowOptions{
		WorkflowID: WorkflowID(leadID), UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil && acceptCtx.Err() != nil && ctx.Err() == nil {
		return res, fmt.Errorf("%s for lead %s: the journey did not take it within %s (is a worker running?); Temporal may still deliver it when one polls", name, leadID, wait)
	}
	if err == nil {
		if err = awaitOutcome(ctx, h, wait, &res); errors.Is(err, errStillRunning) {
			return res, fmt.Errorf("%w (lead %s)", waiting, leadID)
		}
	}
	return res, answered(err, leadID, name)
}

// errStillRunning: an accepted Update has not completed within the wait.
var errStillRunning = errors.New("the update is still running")

// awaitOutcome waits up to wait for an accepted Update's outcome. When the
// wait runs out first (and ctx has not), it answers errStillRunning. The
// server may end its long poll a little before the deadline with its own
// timeout, so a timeout error counts as the wait running out whichever side
// noticed it first.
func awaitOutcome(ctx context.Context, h client.WorkflowUpdateHandle, wait time.Duration, into any) error {
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := h.Get(waitCtx, into)
	var timedOut *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if err != nil && ctx.Err() == nil && (waitCtx.Err() != nil || errors.As(err, &timedOut)) {
		return errStillRunning
	}
	return err
}

// Lifecycle is where a lead stands: in nurture, with sales, or done.
type Lifecycle string

// Lifecycle stages of a lead.
const (
	LifecycleNurturing    Lifecycle = "nurturing"
	LifecycleMQL          Lifecycle = "mql"
	LifecycleHandedOff    Lifecycle = "handed_off"
	LifecycleSQL          Lifecycle = "sql"
	LifecycleDisqualified Lifecycle = "disqualified"
	LifecycleExited       Lifecycle = "exited"
	// LifecycleGoal: the journey reached its goal (an event its goal names).
	LifecycleGoal Lifecycle = "goal"
)

// Lifecycles lists every lifecycle, in the order a lead goes through them.
func Lifecycles() []Lifecycle {
	return []Lifecycle{LifecycleNurturing, LifecycleMQL, LifecycleHandedOff, LifecycleSQL, LifecycleDisqualified, LifecycleExited, LifecycleGoal}
}

// ExitReason says why a journey ended, when it ended by exiting: one of the
// engine's reasons below, an exit step's reason, or an exit_on event's type.
// Each is a word in snake_case; ExitSuppressed and ExitError are followed by
// ": " and the detail.
type ExitReason string

// The engine's exit reasons.
const (
	// ExitCompleted: the lead went past the journey's last step.
	ExitCompleted ExitReason = "completed"
	// ExitMaxDuration: the journey's max_duration ran out.
	ExitMaxDuration ExitReason = "max_duration"
	// ExitLoopWithoutWait: the steps looped without a wait (validation
	// rejects such journeys; this is the last line of defence).
	ExitLoopWithoutWait ExitReason = "loop_without_wait"
	// ExitContentError: an email could not be rendered for the lead.
	ExitContentError ExitReason = "content_error"
	// ExitAddressRejected: the mail server refused the address for good.
	// (Before it was spelled so, "address rejected".)
	ExitAddressRejected ExitReason = "address_rejected"
	// ExitSuppressed: the address is on the suppression list, for the
	// reason that follows.
	ExitSuppressed ExitReason = "suppressed"
	// ExitRemoved: an operator took the lead out (starter remove); the
	// progress record keeps why.
	ExitRemoved ExitReason = "removed"
	// ExitError: a dead end no retry could mend, described after it.
	ExitError ExitReason = "error"
	// ExitRejected: sales rejected the hand-off (the lead is
	// disqualified). (Before it was spelled so, "rejected by sales".)
	ExitRejected ExitReason = "rejected"
	// ExitErased: the lead's personal data was erased (starter erase),
	// its journey with it. Only PostgreSQL records it: the workflow is
	// deleted.
	ExitErased ExitReason = "erased"
)

// With is the reason followed by its detail: "suppressed: unsubscribe".
func (e ExitReason) With(detail string) ExitReason {
	return e + ExitReason(": "+detail)
}

// StepRecord is one step a lead took.
type StepRecord struct {
	Step    string `json:"step"`
	Kind    string `json:"kind"`
	Stage   string `json:"stage"`
	At      string `json:"at"`
	Outcome string `json:"outcome,omitempty"`
}

// Status is what the status query answers.
type Status struct {
	LeadID         string        `json:"lead_id"`
	Email          string        `json:"email"`
	JourneyID      string        `json:"journey_id"`
	JourneyVersion int           `json:"journey_version"`
	Step           string        `json:"step"`
	BuyingStage    string        `json:"buying_stage"`
	Lifecycle      Lifecycle     `json:"lifecycle"`
	Score          scoring.Score `json:"score"`
	Total          int           `json:"total"`
	EmailsSent     int           `json:"emails_sent"`
	EventsSeen     int           `json:"events_seen"`
	HandoffID      int64         `json:"handoff_id,omitempty"`
	TaskID         int64         `json:"task_id,omitempty"`
	ExitReason     ExitReason    `json:"exit_reason,omitempty"`
	// Ambiguous counts this lead's sends whose reply was lost.
	Ambiguous int          `json:"ambiguous,omitempty"`
	LastSteps []StepRecord `json:"last_steps"`
}

// DataOwner says whose personal data a status is: it names the address.
func (s Status) DataOwner() string { return s.LeadID }

// Result is what a finished journey returns.
type Result struct {
	Lifecycle  Lifecycle  `json:"lifecycle"`
	ExitReason ExitReason `json:"exit_reason,omitempty"`
	// Goal is the goal the journey reached, if it did: an event type, or
	// verdict:accepted.
	Goal        string `json:"goal,omitempty"`
	Score       int    `json:"score"`
	BuyingStage string `json:"buying_stage,omitempty"`
}

// ErrNoJourney says a lead has no running journey: Temporal found no open
// workflow for it. Whether one ever ran, or ended, Temporal decided, not a
// read of the database.
var ErrNoJourney = errors.New("the lead has no running journey")

// ErrJourneyEnded says Temporal refused to start a lead's journey again
// because an earlier one with its ID exists and the re-entry rule said no.
var ErrJourneyEnded = errors.New("the lead's journey has ended")

// Enroll enrols a lead with SignalWithStart: the enrolment is delivered to
// the lead's running workflow (a profile update), or starts one. Whether
// it may start one when an earlier journey of the lead has closed is
// Temporal's to enforce, by the reuse policy: reenter allows it (the
// journey's re-entry rule said yes), otherwise a closed run refuses the
// start with ErrJourneyEnded.
func Enroll(ctx context.Context, c client.Client, taskQueue string, in Input, reenter bool) (client.WorkflowRun, error) {
	if taskQueue == "" {
		return nil, fmt.Errorf("enrol lead %s: no task queue named (TEMPORAL_TASK_QUEUE)", in.Lead.ID)
	}
	en := Enrollment{Lead: in.Lead, JourneyID: in.JourneyID, StartStage: in.StartStage}
	opts := startOptions(in, taskQueue)
	opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	if reenter {
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	run, err := c.SignalWithStartWorkflow(lead.WithID(ctx, in.Lead.ID), WorkflowID(in.Lead.ID), SignalEnroll, en, opts, LeadJourney, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("enrol lead %s in %q: %w (Temporal keeps the earlier run, and the re-entry rule does not allow another)", in.Lead.ID, in.JourneyID, ErrJourneyEnded)
	}
	if err != nil {
		return nil, fmt.Errorf("enrol lead %s in %q: %w", in.Lead.ID, in.JourneyID, err)
	}
	return run, nil
}

// DeliverEvent signals an event to the lead's running journey. It
// never starts one: when no workflow runs (the journey ended, failed, or
// never began), Temporal says so and the answer is ErrNoJourney. An event
// racing the journey's end is thus either taken by the journey or refused,
// never the start of a new one.
func DeliverEvent(ctx context.Context, c client.Client, leadID string, ev lead.Event) error {
	err := c.SignalWorkflow(lead.WithID(ctx, leadID), WorkflowID(leadID), "", SignalEngagement, ev)
	if isNotFound(err) {
		return ErrNoJourney
	}
	if err != nil {
		return fmt.Errorf("signal event %s to lead %s: %w", ev.ID, leadID, err)
	}
	return nil
}

// SendVerdict gives sales' verdict to the lead's journey as an Update and
// returns what the journey did with it. A verdict the journey refuses
// (no open hand-off, another hand-off, already answered) comes back as an
// error saying why.
func SendVerdict(ctx context.Context, c client.Client, leadID string, fb SalesFeedback) (VerdictResult, error) {
	var res VerdictResult
	if err := fb.Validate(); err != nil {
		return res, err
	}
	return res, update(ctx, c, leadID, UpdateVerdict, fb, &res)
}

// SendTaskOutcome reports a task's outcome to the lead's journey as an
// Update and returns where the lead goes next.
func SendTaskOutcome(ctx context.Context, c client.Client, leadID string, o TaskOutcome) (TaskOutcomeResult, error) {
	var res TaskOutcomeResult
	if err := o.Validate(); err != nil {
		return res, err
	}
	return res, update(ctx, c, leadID, UpdateTaskOutcome, o, &res)
}

func update(ctx context.Context, c client.Client, leadID, name string, arg, result any) error {
	ctx = lead.WithID(ctx, leadID)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: WorkflowID(leadID), UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, result)
	}
	return answered(err, leadID, name)
}

// answered says an Update's outcome: the journey's refusal in its own
// words, a journey that is not running, or what went wrong on the way.
func answered(err error, leadID, name string) error {
	if isNotFound(err) {
		return fmt.Errorf("%w (lead %s)", ErrNoJourney, leadID)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		// The journey's own answer: say it as it is, without the wrapping.
		return fmt.Errorf("%w: %s", ErrRefused, app.Message())
	}
	if err != nil {
		return fmt.Errorf("%s for lead %s: %w", name, leadID, err)
	}
	return nil
}

// ErrRefused wraps the reason a journey gives for refusing a verdict or a
// task outcome.
var ErrRefused = errors.New("not taken")

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// QueryLead asks a lead's workflow for its status.
func QueryLead(ctx context.Context, c client.Client, leadID string) (Status, error) {
	var st Status
	v, err := c.QueryWorkflow(lead.WithID(ctx, leadID), WorkflowID(leadID), "", QueryStatus)
	if err != nil {
		return st, fmt.Errorf("query lead %s: %w", leadID, err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of lead %s: %w", leadID, err)
	}
	return st, nil
}

func startOptions(in Input, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: WorkflowID(in.Lead.ID), TaskQueue: taskQueue}
}
