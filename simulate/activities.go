package simulate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/timeline"
)

// unsubscribeURL stands in for the signed link a real send carries.
const unsubscribeURL = "https://nurture.invalid/unsubscribe/simulated"

// memory holds the simulated system of record. Its methods have the names
// and signatures of package activities' (the workflow names activities by
// those), and do in memory what those do in PostgreSQL and over SMTP.
type memory struct {
	mu       sync.Mutex
	journeys map[string]*journeys.Journey
	versions map[string]int
	// suppressed holds addresses that unsubscribed, bounced or
	// complained, as the receiver suppresses them at once.
	suppressed map[string]string
	// done marks the script lines that happened (by index).
	done  map[int]bool
	now   func() time.Time
	start time.Time
	loc   func() *time.Location

	// react and schedule, in a cohort, answer what the journey does.
	react    *reactions
	schedule func(Action)

	lines    []Line
	sent     []string
	costs    []Cost
	handoffs int64
	tasks    int64
	out      Outcome
}

func (m *memory) add(step, what, text string) {
	at := m.now()
	m.lines = append(m.lines, Line{At: at.Sub(m.start), Local: at.In(m.loc()), Step: step, What: what, Text: text})
}

func (m *memory) journey(ref activities.JourneyRef) (*journeys.Journey, error) {
	j, ok := m.journeys[ref.ID]
	if !ok {
		return nil, fmt.Errorf("journey %q is not among the simulated ones (put its file beside the one simulated)", ref.ID)
	}
	return j, nil
}

// LoadJourney serves the journey files as version 1 of each.
func (m *memory) LoadJourney(_ context.Context, _ string, ref activities.JourneyRef) (activities.LoadedJourney, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.journey(ref)
	if err != nil {
		return activities.LoadedJourney{}, err
	}
	return activities.LoadedJourney{Version: m.versions[ref.ID], Journey: j.WithoutBodies()}, nil
}

// SendContent checks suppression at send time and renders the item for the
// lead's persona and data, as the real send does; it records the subject.
func (m *memory) SendContent(_ context.Context, req activities.SendRequest) (activities.SendResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reason, ok := m.suppressed[req.Lead.Email]; ok {
		m.add(req.StepID, timeline.Mail, fmt.Sprintf("not sent: %s is suppressed (%s) [%s]", req.Lead.Email, reason, req.ContentID))
		return activities.SendResult{Status: activities.SendSuppressed, Reason: reason}, nil
	}
	j, err := m.journey(req.Journey)
	if err != nil {
		return activities.SendResult{}, err
	}
	item, ok := j.ContentItem(req.ContentID)
	if !ok {
		return activities.SendResult{Status: activities.SendContentError, Reason: fmt.Sprintf("content %q is not in journey %q", req.ContentID, req.Journey.ID)}, nil
	}
	body, err := item.RenderFor(req.Lead, unsubscribeURL)
	if err != nil {
		m.add(req.StepID, timeline.Mail, fmt.Sprintf("not sent: content %q does not render for this lead: %v", item.ID, err))
		return activities.SendResult{Status: activities.SendContentError, Reason: err.Error()}, nil
	}
	m.sent = append(m.sent, item.ID)
	m.costs = append(m.costs, Cost{What: item.ID, Amount: item.Cost})
	m.add(req.StepID, timeline.Mail, fmt.Sprintf("%q [%s]", body.Subject, item.ID))
	if m.react != nil {
		m.answer(m.react.afterEmail(item.ID))
	}
	return activities.SendResult{Status: activities.SendSent, MessageID: "<" + req.Key + "@simulated>"}, nil
}

// answer schedules a synthetic lead's or sales' answers. It runs with m.mu
// held: scheduling only posts to the environment's loop, which takes posts
// without waiting for m.mu.
func (m *memory) answer(actions []Action) {
	for _, a := range actions {
		m.schedule(a)
	}
}

// RecordProgress keeps the progress record as a timeline line.
func (m *memory) RecordProgress(_ context.Context, p activities.Progress) error {
	s := p.Snapshot()
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.now().Sub(m.start)
	switch {
	case s.Kind == progress.HandedOff && m.out.HandoffAt == nil:
		m.out.HandoffAt = &at
	case s.Lifecycle == "mql" && m.out.MQLAt == nil:
		m.out.MQLAt = &at
	}
	if s.Kind == progress.Stage {
		m.out.Stages = append(m.out.Stages, s.BuyingStage)
	}
	if s.Ended && m.out.EndedAt == nil {
		m.out.EndedAt = &at
	}
	m.out.Lifecycle, m.out.Stage, m.out.ExitReason, m.out.Step, m.out.Score = s.Lifecycle, s.BuyingStage, s.ExitReason, s.Step, s.Score
	if what, text := timeline.Progress(s); what != "" {
		m.add(s.Step, what, text)
	}
	return nil
}

// RecordHandoff numbers the hand-off.
func (m *memory) RecordHandoff(_ context.Context, _ activities.HandOffRequest) (activities.HandOffResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handoffs++
	m.out.Handoffs++
	if m.react != nil {
		m.answer(m.react.afterHandoff())
	}
	return activities.HandOffResult{ID: m.handoffs}, nil
}

// NotifySales stands for the notice mailed to sales.
func (m *memory) NotifySales(_ context.Context, req activities.NoticeRequest) (activities.NoticeResult, error) {
	return activities.NoticeResult{Status: activities.SendSent}, nil
}

// RecordVerdict keeps the verdict the journey took.
func (m *memory) RecordVerdict(_ context.Context, req activities.VerdictRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.out.Verdicts = append(m.out.Verdicts, req.Verdict)
	return nil
}

// CreateTask renders the task's title as the real one does and numbers it.
func (m *memory) CreateTask(_ context.Context, req activities.TaskRequest) (activities.TaskResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	title, err := journeys.RenderTaskTitle(req.Title, req.Lead)
	if err != nil {
		return activities.TaskResult{}, err
	}
	m.tasks++
	m.costs = append(m.costs, Cost{What: "task " + req.StepID, Amount: req.Cost})
	to := req.Assignee
	if to == "" {
		to = "sales"
	}
	m.add(req.StepID, timeline.Task, fmt.Sprintf("%q for %s, outcomes %v", title, to, req.Outcomes))
	if m.react != nil {
		m.answer(m.react.afterTask(req.Outcomes))
	}
	return activities.TaskResult{ID: m.tasks}, nil
}

// RecordTaskOutcome has nothing to keep (see RecordVerdict).
func (m *memory) RecordTaskOutcome(_ context.Context, _ activities.TaskOutcomeRequest) error {
	return nil
}

// suppress is what the receiver does at once for an unsubscribe, a hard
// bounce or a spam complaint, before the journey hears of it.
func (m *memory) suppress(email string, ev lead.EventType) {
	switch ev {
	case lead.Unsubscribe, lead.HardBounce, lead.SpamComplaint:
		m.mu.Lock()
		m.suppressed[email] = string(ev)
		m.mu.Unlock()
	}
}
