// Package journeys is the journey language: the types a marketer's YAML file
// decodes into, loading with line:column errors, validation, template
// rendering, and the shipped example journeys.
//
// A journey is a list of stages (interest, consideration, evaluation), each
// with an ordered list of steps. Unless a step says otherwise, a lead moves to
// the next step in the file, across stage boundaries; entering a step in a
// stage puts the lead in that buying stage, forwards or backwards. Running
// off the end of the last stage exits the journey as "completed".
//
// A published version is stored as JSON of these types and never changes, so
// everything here must marshal to JSON and back without loss.
//
// # Loading a journey file
//
// Check (and Parse, LoadFile, CheckFile) takes bounded time and memory
// whatever the file holds. Before the YAML parser runs: a file over
// MaxFileSize is refused (LoadFile does not read it whole); a UTF-8 byte
// order mark is removed and CR LF and lone CR become LF, so line numbers
// are right; a file that is not UTF-8 is reported at its first bad byte and
// read with its bad bytes replaced; the lexer's tokens are counted against
// MaxValues, MaxDepth and MaxKeyLength as they come, since the parser's
// cost grows with depth and key length. Before anything expands an alias,
// the document is counted with each alias costing the whole of what it
// refers to (checkExpansion), so an alias bomb is refused at its alias.
//
// Every mistake is reported at once, at its line and column, in a
// marketer's words. The YAML tree is walked beside the Go types (keys.go):
// unknown and repeated keys, values of the wrong kind (a fraction where a
// whole number belongs: the decoder would truncate it), tags, aliases to
// nothing. A wrong value is replaced by null so the rest still decodes and
// is validated, and validation does not report a consequence of a mistake
// already reported. The decoder's and the template engine's errors are
// reworded; a syntax error stops the parser, so a file that does not parse
// gets that one problem. At most MaxListed problems are listed.
//
// Errors stop a journey; warnings (Problem.Warning) do not: content sent
// from a step in another stage than its own, a number read as other text
// than was written. Parse and LoadFile return errors only, Check and
// CheckFile warnings too. Checks that depend on the date (a wait_until date
// in the past) need Options.Now: Parse passes none, so a journey that loaded
// yesterday loads today, in a worker or a test; validate and publish pass
// the real clock.
//
// Templates are parsed once and rendered with sample leads chosen to break
// them (templates.go); every body must carry the unsubscribe link for each;
// templates that could run or write without bound are refused, since the
// same templates run in the workers for every lead.
package journeys

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// Journey is one journey definition.
type Journey struct {
	ID          string    `yaml:"id" json:"id"`
	Name        string    `yaml:"name" json:"name"`
	Description string    `yaml:"description,omitempty" json:"description,omitempty"`
	Stages      []Stage   `yaml:"stages" json:"stages"`
	Content     []Content `yaml:"content" json:"content"`
	// Scoring is the model that rescored the lead after each engagement.
	Scoring scoring.Model `yaml:"scoring" json:"scoring"`
	Handoff HandoffRule   `yaml:"handoff" json:"handoff"`
	// ExitOn lists the events that end the journey at once, whatever step
	// the lead is on (unsubscribe, hard bounce, ...).
	ExitOn []lead.EventType `yaml:"exit_on,omitempty" json:"exit_on,omitempty"`
	// Goal ends the journey when it is reached, counted as a goal, not an
	// exit.
	Goal    *Goal        `yaml:"goal,omitempty" json:"goal,omitempty"`
	Recycle *RecycleRule `yaml:"recycle,omitempty" json:"recycle,omitempty"`
	// Entry says which sources and events enrol a lead, and at which stage.
	Entry   []EntryRule  `yaml:"entry,omitempty" json:"entry,omitempty"`
	Reentry *ReentryRule `yaml:"reentry,omitempty" json:"reentry,omitempty"`
	// Personas the journey targets: content with variants must have one
	// for each. A lead's persona is its profile field "persona".
	Personas []string `yaml:"personas,omitempty" json:"personas,omitempty"`
	// TimeZone is used for leads whose profile has none (IANA name).
	TimeZone     string        `yaml:"time_zone,omitempty" json:"time_zone,omitempty"`
	SendWindow   *SendWindow   `yaml:"send_window,omitempty" json:"send_window,omitempty"`
	FrequencyCap *FrequencyCap `yaml:"frequency_cap,omitempty" json:"frequency_cap,omitempty"`
	// MaxDuration ends the journey this long after enrolment, wherever the
	// lead is (a lead handed to sales is no longer in nurture and is not
	// cut off).
	MaxDuration Duration `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	// OnContentError says what happens to a lead whose email cannot be
	// rendered for it (a template that fails on its data): exit the
	// journey (the default) or skip that send and go on.
	OnContentError ContentErrorPolicy `yaml:"on_content_error,omitempty" json:"on_content_error,omitempty"`
}

// ContentErrorPolicy is what a journey does when content fails to render
// for a lead.
type ContentErrorPolicy string

// Content error policies.
const (
	// ContentErrorExit ends the lead's journey with the exit reason
	// "content_error", which operators find in status and reports.
	ContentErrorExit ContentErrorPolicy = "exit"
	// ContentErrorSkip records the send as skipped and goes on.
	ContentErrorSkip ContentErrorPolicy = "skip"
)

// EntryRule enrols leads from a source or by an event, at a stage.
type EntryRule struct {
	// Source matches the lead's source (case-insensitive), like
	// "demo request form".
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Event enrols a lead the first time it does this.
	Event lead.EventType `yaml:"event,omitempty" json:"event,omitempty"`
	// Stage to start at; the first stage when empty.
	Stage string `yaml:"stage,omitempty" json:"stage,omitempty"`
}

// ReentryRule says whether a lead whose journey ended may start it again.
type ReentryRule struct {
	Allowed bool `yaml:"allowed" json:"allowed"`
	// After is how long after the end it may (empty: at once).
	After Duration `yaml:"after,omitempty" json:"after,omitempty"`
}

// SendWindow is when email may go out, in the lead's time zone.
type SendWindow struct {
	// Days are mon, tue, wed, thu, fri, sat, sun; all days when empty.
	Days []string `yaml:"days,omitempty" json:"days,omitempty"`
	// From and To are HH:MM on the lead's clock; To is exclusive.
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
}

// FrequencyCap limits how many journey emails a lead gets in a period; a
// send over the cap waits until it fits.
type FrequencyCap struct {
	Max int      `yaml:"max" json:"max"`
	Per Duration `yaml:"per" json:"per"`
}

// Stage is a buying stage and the steps a lead takes in it.
type Stage struct {
	ID    string `yaml:"id" json:"id"`
	Steps []Step `yaml:"steps" json:"steps"`
}

// Content is one piece of content in the catalogue. Subject, HTML and Text
// are Go templates rendered with the lead's fields (see TemplateData).
type Content struct {
	ID      string `yaml:"id" json:"id"`
	Stage   string `yaml:"stage" json:"stage"`
	Subject string `yaml:"subject" json:"subject"`
	HTML    string `yaml:"html" json:"html,omitempty"`
	Text    string `yaml:"text" json:"text,omitempty"`
	// Cost of one send in the journey's currency, for cost per lead.
	Cost float64 `yaml:"cost,omitempty" json:"cost,omitempty"`
	// Variants per persona replace subject and bodies for leads of that
	// persona; others get the ones above.
	Variants map[string]Variant `yaml:"variants,omitempty" json:"variants,omitempty"`
}

// Variant is a content item's version for one persona.
type Variant struct {
	Subject string `yaml:"subject" json:"subject"`
	HTML    string `yaml:"html,omitempty" json:"html,omitempty"`
	Text    string `yaml:"text,omitempty" json:"text,omitempty"`
}

// ForPersona returns the item as a lead of the persona gets it.
func (c Content) ForPersona(persona string) Content {
	v, ok := c.Variants[persona]
	if !ok || persona == "" {
		return c
	}
	out := c
	out.Subject, out.HTML, out.Text = v.Subject, v.HTML, v.Text
	return out
}

// HandoffRule says when a lead is sales ready. It is checked after every
// rescore, so a demo request during a long wait hands off at once.
type HandoffRule struct {
	// MinScore is the total (fit, behaviour and adjustments) to reach.
	MinScore int `yaml:"min_score" json:"min_score"`
	// BehaviourAtLeast and FitAtLeast, when set, must hold too: a lead
	// that reads everything but is the wrong company is not sales ready.
	BehaviourAtLeast *int `yaml:"behaviour_at_least,omitempty" json:"behaviour_at_least,omitempty"`
	FitAtLeast       *int `yaml:"fit_at_least,omitempty" json:"fit_at_least,omitempty"`
	// Require names profile fields that must be known, like the BANT
	// answer bant_authority.
	Require []string `yaml:"require,omitempty" json:"require,omitempty"`
	// SalesEmail overrides the worker's SALES_EMAIL for this journey.
	SalesEmail string `yaml:"sales_email,omitempty" json:"sales_email,omitempty"`
	// Routing picks the owner of each hand-off; without it, hand-offs go
	// to SalesEmail.
	Routing *Routing `yaml:"routing,omitempty" json:"routing,omitempty"`
	// CRMURL overrides the worker's CRM_WEBHOOK_URL for this journey's
	// hand-offs.
	CRMURL string `yaml:"crm_url,omitempty" json:"crm_url,omitempty"`
}

// Goal is what a journey is for: an event (the CRM reports an
// opportunity, a customer) ends it at once, wherever the lead is, handed
// off included; a verdict (accepted) is counted as the goal too.
type Goal struct {
	Events   []lead.EventType `yaml:"events,omitempty" json:"events,omitempty"`
	Verdicts []string         `yaml:"verdicts,omitempty" json:"verdicts,omitempty"`
}

// ReachedBy says whether an event is one of the goal's.
func (g *Goal) ReachedBy(t lead.EventType) bool {
	return g != nil && slices.Contains(g.Events, t)
}

// ReachedByVerdict says whether a verdict counts as the goal.
func (g *Goal) ReachedByVerdict(v string) bool {
	return g != nil && slices.Contains(g.Verdicts, v)
}

// RecycleRule says where a lead goes when sales sends it back.
type RecycleRule struct {
	// Journey to continue in (its latest published version); this journey
	// when empty.
	Journey string `yaml:"journey,omitempty" json:"journey,omitempty"`
	// Stage whose first step the lead resumes at; the first stage when
	// empty.
	Stage string `yaml:"stage,omitempty" json:"stage,omitempty"`
	// KeepScore keeps the behaviour score; by default it starts again at
	// zero, since what made the lead look ready did not convince sales.
	KeepScore bool `yaml:"keep_score,omitempty" json:"keep_score,omitempty"`
}

// Step is one step. Exactly one of the kind fields is set.
type Step struct {
	ID string `yaml:"id" json:"id"`

	Send        string       `yaml:"send,omitempty" json:"send,omitempty"`
	Wait        Duration     `yaml:"wait,omitempty" json:"wait,omitempty"`
	WaitUntil   *WaitUntil   `yaml:"wait_until,omitempty" json:"wait_until,omitempty"`
	WaitFor     *WaitFor     `yaml:"wait_for,omitempty" json:"wait_for,omitempty"`
	Task        *Task        `yaml:"task,omitempty" json:"task,omitempty"`
	Branch      *Branch      `yaml:"branch,omitempty" json:"branch,omitempty"`
	AdjustScore *int         `yaml:"adjust_score,omitempty" json:"adjust_score,omitempty"`
	SetStage    string       `yaml:"set_stage,omitempty" json:"set_stage,omitempty"`
	Handoff     *HandoffStep `yaml:"handoff,omitempty" json:"handoff,omitempty"`
	Goto        string       `yaml:"goto,omitempty" json:"goto,omitempty"`
	Exit        string       `yaml:"exit,omitempty" json:"exit,omitempty"`
	Next        string       `yaml:"next,omitempty" json:"next,omitempty"`
}

// WaitFor waits until one of Events arrives or Timeout passes. The event
// that came goes to its branch in On, else to OnEvent; a timeout goes to
// OnTimeout; each falls back to the next step.
type WaitFor struct {
	Events    []lead.EventType          `yaml:"events" json:"events"`
	Timeout   Duration                  `yaml:"timeout" json:"timeout"`
	On        map[lead.EventType]string `yaml:"on,omitempty" json:"on,omitempty"`
	OnEvent   string                    `yaml:"on_event,omitempty" json:"on_event,omitempty"`
	OnTimeout string                    `yaml:"on_timeout,omitempty" json:"on_timeout,omitempty"`
}

// WaitUntil waits for a date or for the send window to open.
type WaitUntil struct {
	// Date is 2026-12-01 (midnight in the lead's time zone) or an RFC 3339
	// time.
	Date string `yaml:"date,omitempty" json:"date,omitempty"`
	// SendWindow waits until the journey's send window is open.
	SendWindow bool `yaml:"send_window,omitempty" json:"send_window,omitempty"`
}

// Task asks a person (a sales rep) to do something, like a phone call, and
// waits for its outcome, which the rep reports with `starter task`.
type Task struct {
	// Title is a template, like "Call {{.FirstName}} at {{.Company}}".
	Title string `yaml:"title" json:"title"`
	// Assignee is the e-mail address the task is sent to; the sales
	// address when empty.
	Assignee string `yaml:"assignee,omitempty" json:"assignee,omitempty"`
	// Cost of doing it once, for cost per lead: a call costs far more than
	// an email.
	Cost    float64  `yaml:"cost,omitempty" json:"cost,omitempty"`
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Outcomes maps each outcome the rep may report to the step it leads
	// to, like {reached: send-demo, no_answer: retry-later}.
	Outcomes  map[string]string `yaml:"outcomes" json:"outcomes"`
	OnTimeout string            `yaml:"on_timeout,omitempty" json:"on_timeout,omitempty"`
}

// Branch goes to the first case whose condition holds, else to Otherwise.
type Branch struct {
	Cases     []Case `yaml:"cases" json:"cases"`
	Otherwise string `yaml:"otherwise" json:"otherwise"`
}

// Case is one branch.
type Case struct {
	When Condition `yaml:"when" json:"when"`
	Goto string    `yaml:"goto" json:"goto"`
}

// Condition holds when every field that is set holds.
type Condition struct {
	ScoreAtLeast *int `yaml:"score_at_least,omitempty" json:"score_at_least,omitempty"`
	ScoreBelow   *int `yaml:"score_below,omitempty" json:"score_below,omitempty"`
	// Engaged holds when the lead ever did any of these.
	Engaged []lead.EventType `yaml:"engaged,omitempty" json:"engaged,omitempty"`
	Stage   string           `yaml:"stage,omitempty" json:"stage,omitempty"`
	Field   *FieldMatch      `yaml:"field,omitempty" json:"field,omitempty"`
}

// FieldMatch compares a profile field.
type FieldMatch struct {
	Name  string   `yaml:"name" json:"name"`
	OneOf []string `yaml:"one_of" json:"one_of"`
}

// HandoffStep hands the lead to sales whatever its score.
type HandoffStep struct {
	Note string `yaml:"note,omitempty" json:"note,omitempty"`
}

// Located is a step with the stage it belongs to.
type Located struct {
	Step  Step
	Stage string
}

// Steps lists all steps in file order, with their stages.
func (j *Journey) Steps() []Located {
	var out []Located
	for _, st := range j.Stages {
		for _, s := range st.Steps {
			out = append(out, Located{Step: s, Stage: st.ID})
		}
	}
	return out
}

// Step finds a step by ID.
func (j *Journey) Step(id string) (Located, bool) {
	for _, l := range j.Steps() {
		if l.Step.ID == id {
			return l, true
		}
	}
	return Located{}, false
}

// After returns the step that follows id when the step names no other: its
// Next, or the one after it in the file; "" at the end of the journey.
func (j *Journey) After(id string) string {
	steps := j.Steps()
	for i, l := range steps {
		if l.Step.ID != id {
			continue
		}
		if l.Step.Next != "" {
			return l.Step.Next
		}
		if i+1 < len(steps) {
			return steps[i+1].Step.ID
		}
		return ""
	}
	return ""
}

// FirstStep returns the first step of a stage, or of the journey when stage
// is empty.
func (j *Journey) FirstStep(stage string) (string, bool) {
	for _, st := range j.Stages {
		if (stage == "" || st.ID == stage) && len(st.Steps) > 0 {
			return st.Steps[0].ID, true
		}
	}
	return "", false
}

// ContentItem finds a content item by ID.
func (j *Journey) ContentItem(id string) (Content, bool) {
	for _, c := range j.Content {
		if c.ID == id {
			return c, true
		}
	}
	return Content{}, false
}

// HasStage reports whether the journey defines the stage.
func (j *Journey) HasStage(id string) bool {
	for _, st := range j.Stages {
		if st.ID == id {
			return true
		}
	}
	return false
}

// WithoutBodies returns a copy without the content templates: what a
// workflow needs to interpret the journey, and a smaller record in its
// history. The send activity renders from the stored version.
func (j Journey) WithoutBodies() Journey {
	out := j
	out.Content = make([]Content, len(j.Content))
	for i, c := range j.Content {
		out.Content[i] = Content{ID: c.ID, Stage: c.Stage, Cost: c.Cost}
	}
	return out
}

// Ready says whether a score and profile meet the hand-off rule, and why
// not when they do not.
func (h HandoffRule) Ready(s scoring.Score, p lead.Profile) (bool, string) {
	switch {
	case s.Total() < h.MinScore:
		return false, fmt.Sprintf("score %d is below %d", s.Total(), h.MinScore)
	case h.BehaviourAtLeast != nil && s.Behaviour() < *h.BehaviourAtLeast:
		return false, fmt.Sprintf("behaviour %d is below %d", s.Behaviour(), *h.BehaviourAtLeast)
	case h.FitAtLeast != nil && s.Fit < *h.FitAtLeast:
		return false, fmt.Sprintf("fit %d is below %d", s.Fit, *h.FitAtLeast)
	}
	for _, f := range h.Require {
		if strings.TrimSpace(p.Field(f)) == "" {
			return false, fmt.Sprintf("%s is not known", f)
		}
	}
	return true, h.describe(s)
}

// RuleCheck is one part of the hand-off rule, said for a lead, and
// whether it holds.
type RuleCheck struct {
	Text string
	Met  bool
}

// Conditions says every part of the rule for a lead, met or not, so a lead
// above the hand-off score that is not handed off shows what is missing.
func (h HandoffRule) Conditions(s scoring.Score, p lead.Profile) []RuleCheck {
	cmpWords := func(what string, v, at int) RuleCheck {
		if v >= at {
			return RuleCheck{Text: fmt.Sprintf("%s %d ≥ %d", what, v, at), Met: true}
		}
		return RuleCheck{Text: fmt.Sprintf("%s %d < %d", what, v, at)}
	}
	out := []RuleCheck{cmpWords("score", s.Total(), h.MinScore)}
	if h.BehaviourAtLeast != nil {
		out = append(out, cmpWords("behaviour (interest + intent)", s.Behaviour(), *h.BehaviourAtLeast))
	}
	if h.FitAtLeast != nil {
		out = append(out, cmpWords("fit", s.Fit, *h.FitAtLeast))
	}
	for _, f := range h.Require {
		if v := strings.TrimSpace(p.Field(f)); v != "" {
			out = append(out, RuleCheck{Text: fmt.Sprintf("%s is known (%s)", f, v), Met: true})
		} else {
			out = append(out, RuleCheck{Text: f + " is not known"})
		}
	}
	return out
}

func (h HandoffRule) describe(s scoring.Score) string {
	parts := []string{fmt.Sprintf("score %d reached the hand-off score %d", s.Total(), h.MinScore)}
	if h.BehaviourAtLeast != nil {
		parts = append(parts, fmt.Sprintf("behaviour %d ≥ %d", s.Behaviour(), *h.BehaviourAtLeast))
	}
	if h.FitAtLeast != nil {
		parts = append(parts, fmt.Sprintf("fit %d ≥ %d", s.Fit, *h.FitAtLeast))
	}
	if len(h.Require) > 0 {
		parts = append(parts, strings.Join(h.Require, ", ")+" known")
	}
	return strings.Join(parts, ", ")
}
