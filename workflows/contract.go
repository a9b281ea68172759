// Package workflows holds the LeadJourney workflow and its message contract:
// the signal and query names and payload types that the starter, the webhook
// receiver and the workflow share. They are defined here once and imported by
// the others.
package workflows

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// DefaultTaskQueue is where workers poll unless TEMPORAL_TASK_QUEUE says
// otherwise.
const DefaultTaskQueue = "nurture"

// Signal and query names.
const (
	// SignalEnroll carries an Enrollment.
	SignalEnroll = "enroll"
	// SignalEngagement carries a lead.Event.
	SignalEngagement = "engagement"
	// SignalSalesFeedback carries a SalesFeedback.
	SignalSalesFeedback = "sales-feedback"
	// SignalTaskOutcome carries a TaskOutcome.
	SignalTaskOutcome = "task-outcome"
	// QueryStatus returns a Status.
	QueryStatus = "status"
)

// WorkflowID is the ID of a lead's workflow: one per lead, the lead's entity.
func WorkflowID(leadID string) string { return "lead-" + leadID }

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

// Sales verdicts on a hand-off.
const (
	VerdictAccepted = "accepted"
	VerdictRejected = "rejected"
	VerdictRecycle  = "recycle"
)

// SalesFeedback is sales' answer to a hand-off.
type SalesFeedback struct {
	// HandoffID names the hand-off answered; 0 answers the current one.
	HandoffID int64  `json:"handoff_id,omitempty"`
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason,omitempty"`
}

// Validate checks the verdict.
func (f SalesFeedback) Validate() error {
	switch f.Verdict {
	case VerdictAccepted, VerdictRejected, VerdictRecycle:
		return nil
	}
	return fmt.Errorf("verdict %q: use accepted, rejected or recycle", f.Verdict)
}

// TaskOutcome is what a person reports about a task a journey gave them.
type TaskOutcome struct {
	TaskID  int64  `json:"task_id"`
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
}

// SendTaskOutcome delivers a task's outcome to the lead's journey.
func SendTaskOutcome(ctx context.Context, c client.Client, leadID string, o TaskOutcome) error {
	if err := c.SignalWorkflow(ctx, WorkflowID(leadID), "", SignalTaskOutcome, o); err != nil {
		return fmt.Errorf("send task outcome to lead %s: %w", leadID, err)
	}
	return nil
}

// Lifecycle stages of a lead.
const (
	LifecycleNurturing    = "nurturing"
	LifecycleMQL          = "mql"
	LifecycleHandedOff    = "handed_off"
	LifecycleSQL          = "sql"
	LifecycleDisqualified = "disqualified"
	LifecycleExited       = "exited"
)

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
	Lifecycle      string        `json:"lifecycle"`
	Score          scoring.Score `json:"score"`
	Total          int           `json:"total"`
	EmailsSent     int           `json:"emails_sent"`
	EventsSeen     int           `json:"events_seen"`
	HandoffID      int64         `json:"handoff_id,omitempty"`
	TaskID         int64         `json:"task_id,omitempty"`
	ExitReason     string        `json:"exit_reason,omitempty"`
	LastSteps      []StepRecord  `json:"last_steps"`
}

// Result is what a finished journey returns.
type Result struct {
	Lifecycle  string `json:"lifecycle"`
	ExitReason string `json:"exit_reason,omitempty"`
	Score      int    `json:"score"`
}

// Enroll enrols a lead with SignalWithStart: the lead's workflow is started
// if it is not running, and the enrolment delivered either way.
func Enroll(ctx context.Context, c client.Client, taskQueue string, in Input) (client.WorkflowRun, error) {
	en := Enrollment{Lead: in.Lead, JourneyID: in.JourneyID, StartStage: in.StartStage}
	run, err := c.SignalWithStartWorkflow(ctx, WorkflowID(in.Lead.ID), SignalEnroll, en, startOptions(in, taskQueue), LeadJourney, in)
	if err != nil {
		return nil, fmt.Errorf("enrol lead %s in %q: %w", in.Lead.Email, in.JourneyID, err)
	}
	return run, nil
}

// SendEngagement delivers an event with SignalWithStart, so an event for a
// lead whose journey is not running starts it (in the journey in) and
// nothing is lost.
func SendEngagement(ctx context.Context, c client.Client, taskQueue string, in Input, ev lead.Event) error {
	_, err := c.SignalWithStartWorkflow(ctx, WorkflowID(in.Lead.ID), SignalEngagement, ev, startOptions(in, taskQueue), LeadJourney, in)
	if err != nil {
		return fmt.Errorf("signal event %s to lead %s: %w", ev.ID, in.Lead.Email, err)
	}
	return nil
}

// SendFeedback delivers sales' verdict to a lead's running journey.
func SendFeedback(ctx context.Context, c client.Client, leadID string, fb SalesFeedback) error {
	if err := fb.Validate(); err != nil {
		return err
	}
	if err := c.SignalWorkflow(ctx, WorkflowID(leadID), "", SignalSalesFeedback, fb); err != nil {
		return fmt.Errorf("send verdict to lead %s: %w", leadID, err)
	}
	return nil
}

// QueryLead asks a lead's workflow for its status.
func QueryLead(ctx context.Context, c client.Client, leadID string) (Status, error) {
	var st Status
	v, err := c.QueryWorkflow(ctx, WorkflowID(leadID), "", QueryStatus)
	if err != nil {
		return st, fmt.Errorf("query lead %s: %w", leadID, err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of lead %s: %w", leadID, err)
	}
	return st, nil
}

func startOptions(in Input, taskQueue string) client.StartWorkflowOptions {
	if taskQueue == "" {
		taskQueue = DefaultTaskQueue
	}
	return client.StartWorkflowOptions{ID: WorkflowID(in.Lead.ID), TaskQueue: taskQueue}
}
