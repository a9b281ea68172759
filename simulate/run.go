package simulate

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/span"
	"github.com/nurture-dev/nurture/timeline"
	"github.com/nurture-dev/nurture/workflows"
	"github.com/nurture-dev/nurture/zones"
)

// DefaultHorizon is how long a simulation runs a journey that does not end
// on its own (one waiting on a task nobody reports, say).
const DefaultHorizon = 2 * 365 * 24 * time.Hour

// Options are one simulation.
type Options struct {
	// Journey is the journey simulated; Others are journeys it may send
	// the lead on to (a recycle), by ID.
	Journey *journeys.Journey
	Others  []*journeys.Journey
	Lead    lead.Profile
	// StartStage starts the lead further on, as an entry rule would.
	StartStage string
	Script     []Action
	// Start is when the journey starts: pinned by the caller, never read
	// from the wall clock here.
	Start time.Time
	// Horizon ends a journey still running after this long (DefaultHorizon
	// when zero).
	Horizon time.Duration

	// react, in a cohort, answers sends, hand-offs and tasks as a synthetic
	// lead and sales would.
	react *reactions
}

// Line is one thing that happened, at a journey time.
type Line struct {
	// At is the journey time from the start; Local is the moment in the
	// lead's time zone.
	At    time.Duration
	Local time.Time
	// Step is the journey step it happened in, where one did.
	Step string
	What string
	Text string
}

// Cost is a touchpoint's cost (content's or a task's `cost`).
type Cost struct {
	What   string
	Amount float64
}

// Outcome is where the lead ended up, and when things happened.
type Outcome struct {
	Lifecycle  string
	Stage      string
	ExitReason string
	// Step is the last step the lead was at.
	Step  string
	Score scoring.Score
	// Running is true when the journey had not ended at the horizon.
	Running bool
	// HandoffAt, MQLAt and EndedAt are journey times, nil for never.
	HandoffAt *time.Duration
	MQLAt     *time.Duration
	EndedAt   *time.Duration
	Handoffs  int
	// Stages are the buying stages the lead entered, in order; Verdicts
	// sales' verdicts that the journey took.
	Stages   []string
	Verdicts []string
	// Sent are the content items mailed, in order.
	Sent []string
	// Costs are the touchpoints that cost something, in order.
	Costs []Cost
}

// Cost adds up the touchpoints' costs.
func (o Outcome) Cost() float64 {
	var sum float64
	for _, c := range o.Costs {
		sum += c.Amount
	}
	return sum
}

// Result is a simulation's timeline and outcome.
type Result struct {
	Lines   []Line
	Outcome Outcome
}

// Run simulates the lead's journey with the production workflow on the
// time-skipping test environment and returns what happened.
func Run(o Options) (Result, error) {
	if o.Journey == nil {
		return Result{}, errors.New("simulate: no journey")
	}
	if o.Start.IsZero() {
		return Result{}, errors.New("simulate: no start time")
	}
	if err := o.Lead.Normalize(); err != nil {
		return Result{}, fmt.Errorf("the simulated lead: %w", err)
	}
	if o.Horizon <= 0 {
		o.Horizon = DefaultHorizon
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(o.Start)
	// Six months of journey time pass in well under a second of the
	// environment's own clock; the timeout only stops a runaway journey.
	env.SetTestTimeout(time.Minute)

	loc := zones.First(o.Lead.TimeZone, o.Journey.TimeZone)
	mem := &memory{
		journeys: map[string]*journeys.Journey{o.Journey.ID: o.Journey}, versions: map[string]int{o.Journey.ID: 1},
		suppressed: map[string]string{}, done: map[int]bool{}, now: env.Now, start: o.Start, loc: func() *time.Location { return loc },
	}
	for _, j := range o.Others {
		if _, ok := mem.journeys[j.ID]; !ok {
			mem.journeys[j.ID], mem.versions[j.ID] = j, 1
		}
	}
	env.RegisterWorkflow(workflows.LeadJourney)
	env.RegisterActivity(mem)

	mem.add("", timeline.Enroll, fmt.Sprintf("%s in %s%s", describe(o.Lead), o.Journey.ID, stageWords(o.StartStage)))
	status := func() workflows.Status {
		var st workflows.Status
		if v, err := env.QueryWorkflow(workflows.QueryStatus); err == nil {
			_ = v.Get(&st)
		}
		return st
	}
	// Enrolment is SignalWithStart: the lead's profile comes as a signal
	// with the start, as ingest sends it.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEnroll, workflows.Enrollment{Lead: o.Lead, JourneyID: o.Journey.ID, StartStage: o.StartStage})
	}, 0)
	for i, a := range o.Script {
		delay := a.At(o.Start, loc).Sub(o.Start)
		if delay < 0 {
			return Result{}, fmt.Errorf("script line %d: %s %02d:%02d is before the journey starts", a.Line, span.Format(a.After), a.Clock/60, a.Clock%60)
		}
		env.RegisterDelayedCallback(func() { mem.act(env, o.Lead, i, a, status) }, delay)
	}
	if o.react != nil {
		// Answers come after what the journey did, from then: an action's
		// After is its delay. They are numbered after the script's.
		next := len(o.Script)
		var mu sync.Mutex
		mem.react, mem.schedule = o.react, func(a Action) {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			env.RegisterDelayedCallback(func() { mem.act(env, o.Lead, i, a, status) }, a.After)
		}
	}
	env.RegisterDelayedCallback(func() {
		mem.mu.Lock()
		mem.out.Running = true
		mem.mu.Unlock()
		env.CancelWorkflow()
	}, o.Horizon)

	env.ExecuteWorkflow(workflows.LeadJourney, workflows.Input{Lead: o.Lead, JourneyID: o.Journey.ID, StartStage: o.StartStage})
	if !env.IsWorkflowCompleted() {
		return Result{}, errors.New("simulate: the journey did not finish in a minute of computing; it may loop")
	}
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if err := env.GetWorkflowError(); err != nil && !mem.out.Running {
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			return Result{}, errors.New("simulate: the journey continued as new; simulations do not follow it there yet")
		}
		return Result{Lines: mem.lines}, fmt.Errorf("simulate: the journey failed: %w", err)
	}
	// What the script says happens after the journey ended reaches no
	// journey, as a real event or verdict for an ended journey does not.
	for i, a := range o.Script {
		if mem.done[i] {
			continue
		}
		at := a.At(o.Start, loc)
		words := map[ActionKind]string{ActEvent: eventWords(a), ActVerdict: "verdict " + a.Verdict, ActTask: "task outcome " + a.Outcome}[a.Kind]
		what := map[ActionKind]string{ActEvent: timeline.Event, ActVerdict: timeline.Sales, ActTask: timeline.Task}[a.Kind]
		mem.lines = append(mem.lines, Line{At: at.Sub(o.Start), Local: at.In(loc), What: what, Text: words + ": not delivered, the journey had ended"})
	}
	if mem.out.Running {
		mem.add(mem.out.Step, "STOP", fmt.Sprintf("still running after %s, at step %q (the simulation's horizon)", span.Format(o.Horizon), mem.out.Step))
	}
	out := mem.out
	out.Sent, out.Costs = mem.sent, mem.costs
	return Result{Lines: mem.lines, Outcome: out}, nil
}

// act makes a script line happen: engagement as a signal (after the
// receiver's suppression, for the events that suppress), verdicts and task
// outcomes as the Updates sales and the CLI send, with the journey's
// answer on the timeline.
func (m *memory) act(env *testsuite.TestWorkflowEnvironment, l lead.Profile, i int, a Action, status func() workflows.Status) {
	step := status().Step
	m.mu.Lock()
	m.done[i] = true
	m.mu.Unlock()
	switch a.Kind {
	case ActEvent:
		m.suppress(l.Email, a.Event)
		m.mu.Lock()
		m.add(step, timeline.Event, eventWords(a))
		m.mu.Unlock()
		env.SignalWorkflow(workflows.SignalEngagement, lead.Event{
			ID: fmt.Sprintf("sim-%d", i+1), LeadID: l.ID, Type: a.Event, OccurredAt: env.Now(), Source: "simulation", Properties: a.Properties,
		})
	case ActVerdict:
		m.update(env, step, workflows.UpdateVerdict, fmt.Sprintf("verdict %s%s", a.Verdict, noteWords(a.Note)),
			workflows.SalesFeedback{Verdict: workflows.Verdict(a.Verdict), Reason: a.Note, Owner: "simulation"}, timeline.Sales)
	case ActTask:
		m.update(env, step, workflows.UpdateTaskOutcome, fmt.Sprintf("task outcome %s%s", a.Outcome, noteWords(a.Note)),
			workflows.TaskOutcome{Outcome: a.Outcome, Note: a.Note}, timeline.Task)
	}
}

// update sends an Update; the line says what was asked, and a refusal
// says why on a line of its own (what was taken shows in the progress the
// journey records).
func (m *memory) update(env *testsuite.TestWorkflowEnvironment, step, name, said string, arg any, what string) {
	m.mu.Lock()
	m.add(step, what, said)
	m.mu.Unlock()
	refused := func(err error) {
		m.mu.Lock()
		m.add(step, what, "not taken: "+err.Error())
		m.mu.Unlock()
	}
	env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: refused,
		OnComplete: func(_ any, err error) {
			if err != nil {
				refused(err)
			}
		},
	}, arg)
}

func eventWords(a Action) string {
	s := string(a.Event) + " (" + a.Event.Describe() + ")"
	for k, v := range a.Properties {
		s += " " + k + "=" + v
	}
	return s
}

func noteWords(note string) string {
	if note == "" {
		return ""
	}
	return " (" + note + ")"
}

func stageWords(stage string) string {
	if stage == "" {
		return ""
	}
	return " at stage " + stage
}

func describe(p lead.Profile) string {
	s := p.Email
	for _, part := range []string{p.Title, p.Company, p.Fields["persona"]} {
		if part != "" {
			s += ", " + part
		}
	}
	return s
}
