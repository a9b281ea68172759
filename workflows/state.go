package workflows

import (
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// maxRecentEvents bounds the event IDs remembered for de-duplication across
// continue-as-new; a sender retries within minutes, not thousands of events.
const maxRecentEvents = 1000

// maxHistory bounds the step records kept for the status query.
const maxHistory = 20

// State is everything a lead's journey knows; it is carried across
// continue-as-new, so it must stay bounded.
type State struct {
	Lead           lead.Profile `json:"lead"`
	JourneyID      string       `json:"journey_id"`
	JourneyVersion int          `json:"journey_version"`
	TimeScale      float64      `json:"time_scale,omitempty"`
	Enrollment     string       `json:"enrollment"`
	// StartedAt anchors the journey clock (workflow time, Unix ms): journey
	// time runs TimeScale times faster from here, and max_duration counts
	// from here.
	StartedAt   int64  `json:"started_at"`
	Step        string `json:"step"`
	BuyingStage string `json:"buying_stage"`
	// StepStage is the stage of the step the lead last entered: the
	// buying stage moves when the lead enters a step of another stage, so
	// a set_stage holds until then. Empty in state written before it
	// existed, which moves the stage as it always did.
	StepStage string    `json:"step_stage,omitempty"`
	Lifecycle Lifecycle `json:"lifecycle"`
	// Scoring holds the running aggregates; Score is their last
	// evaluation, kept for the status query and the snapshots.
	Scoring scoring.State `json:"scoring"`
	Score   scoring.Score `json:"score"`
	// Entered is true once the current step's entry (occurrence count, wait
	// deadline) has happened, so a run continued as new resumes the step
	// instead of repeating it.
	Entered bool `json:"entered,omitempty"`
	// EnteredAt is when the lead entered the current step (workflow time,
	// Unix ms): a migration to a step of the same kind counts the new
	// step's wait from it. Zero in state written before it existed.
	EnteredAt int64 `json:"entered_at,omitempty"`
	// WaitUntil is the current wait's deadline in workflow time (Unix ms).
	WaitUntil int64 `json:"wait_until,omitempty"`
	// Matched is an event the coming wait_for wants that arrived just
	// before the wait began.
	Matched lead.EventType `json:"matched,omitempty"`
	// Occurrences counts visits per step; with the enrolment it makes each
	// send's idempotency key.
	Occurrences map[string]int         `json:"occurrences"`
	EventCounts map[lead.EventType]int `json:"event_counts"`
	RecentIDs   []string               `json:"recent_ids"`
	History     []StepRecord           `json:"history"`
	EmailsSent  int                    `json:"emails_sent"`
	// ProgressSeq numbers the score snapshots of this enrolment.
	ProgressSeq int `json:"progress_seq"`
	// RecentSends are the journey times (Unix ms) of the last emails, as
	// many as the frequency cap counts.
	RecentSends []int64 `json:"recent_sends,omitempty"`
	// TaskID is the open task the lead waits on; TaskResult its outcome
	// once reported.
	TaskID     int64  `json:"task_id,omitempty"`
	TaskResult string `json:"task_result,omitempty"`
	TaskNote   string `json:"task_note,omitempty"`
	// Ambiguous counts sends whose message went out and whose reply was
	// lost: not sent again, listed for operators.
	Ambiguous  int        `json:"ambiguous,omitempty"`
	EventsSeen int        `json:"events_seen"`
	HandoffID  int64      `json:"handoff_id,omitempty"`
	Handoffs   int        `json:"handoffs,omitempty"`
	ExitReason ExitReason `json:"exit_reason,omitempty"`
	// Goal is the goal reached, if one was.
	Goal string `json:"goal,omitempty"`

	// Messages received but not yet acted on when the run continued as new.
	Pending  []lead.Event    `json:"pending,omitempty"`
	Feedback []SalesFeedback `json:"feedback,omitempty"`
	Enrolls  []Enrollment    `json:"enrolls,omitempty"`
	Outcomes []TaskOutcome   `json:"outcomes,omitempty"`
}

func (s *State) remember(id string) {
	s.RecentIDs = append(s.RecentIDs, id)
	if len(s.RecentIDs) > maxRecentEvents {
		s.RecentIDs = append([]string(nil), s.RecentIDs[len(s.RecentIDs)-maxRecentEvents:]...)
	}
}

func (s *State) record(r StepRecord) {
	s.History = append(s.History, r)
	if len(s.History) > maxHistory {
		s.History = append([]StepRecord(nil), s.History[len(s.History)-maxHistory:]...)
	}
}

// active reports whether the lead is still being nurtured.
func (s *State) active() bool {
	return s.Lifecycle == LifecycleNurturing || s.Lifecycle == LifecycleMQL
}

// finished reports whether the journey is over for good.
func (s *State) finished() bool {
	switch s.Lifecycle {
	case LifecycleSQL, LifecycleDisqualified, LifecycleExited, LifecycleGoal:
		return true
	}
	return false
}

func (s *State) status() Status {
	return Status{
		LeadID: s.Lead.ID, Email: s.Lead.Email, JourneyID: s.JourneyID, JourneyVersion: s.JourneyVersion,
		Step: s.Step, BuyingStage: s.BuyingStage, Lifecycle: s.Lifecycle, Score: s.Score, Total: s.Score.Total(),
		EmailsSent: s.EmailsSent, EventsSeen: s.EventsSeen, HandoffID: s.HandoffID, TaskID: s.TaskID, ExitReason: s.ExitReason,
		Ambiguous: s.Ambiguous, LastSteps: append([]StepRecord(nil), s.History...),
	}
}
