// Package scoring turns a lead's engagement into a score that explains
// itself. It is pure and deterministic: the same model and the same events
// give the same score on every worker and on every replay, which is what lets
// it run inside a workflow.
//
// The score keeps running aggregates (one line per rule) rather than the
// whole event history, so rescoring costs the same for a lead's first event
// and its ten-thousandth, and the state carried across continue-as-new stays
// small.
package scoring

import (
	"sort"

	"github.com/nurture-dev/nurture/lead"
)

// Axis is what a behaviour says about a lead: interest (it reads) or intent
// (it is getting ready to buy). Intent rules carry more points.
type Axis string

// The behaviour axes.
const (
	Interest Axis = "interest"
	Intent   Axis = "intent"
)

// Model is the scoring model a journey version carries.
type Model struct {
	// MQL is the score at which a lead becomes a Marketing Qualified Lead.
	MQL int `yaml:"mql" json:"mql"`
	// Events gives the points per engagement type.
	Events map[lead.EventType]EventRule `yaml:"events" json:"events"`
}

// EventRule scores one engagement type.
type EventRule struct {
	Points int  `yaml:"points" json:"points"`
	Axis   Axis `yaml:"axis" json:"axis"`
}

// Line is one rule's share of a score: which rule, how often it fired, and
// the points it gave in all.
type Line struct {
	Rule   string `json:"rule"`
	Axis   Axis   `json:"axis"`
	Count  int    `json:"count"`
	Points int    `json:"points"`
}

// Score is a lead's current score and its breakdown.
type Score struct {
	Interest int `json:"interest"`
	Intent   int `json:"intent"`
	// Adjusted is what journey steps and sales added or took away by hand.
	Adjusted int `json:"adjusted,omitempty"`
	// Breakdown has one line per rule that fired, sorted by rule name.
	Breakdown []Line `json:"breakdown,omitempty"`
}

// Total is the number compared with thresholds.
func (s Score) Total() int { return s.Interest + s.Intent + s.Adjusted }

// Adjust adds points outside the model (an adjust_score step), under a rule
// name so the breakdown still explains them.
func (s *Score) Adjust(rule string, points int) {
	s.Adjusted += points
	s.add(Line{Rule: rule, Axis: "adjustment", Count: 1, Points: points})
}

// Apply adds one event to the score and reports the points it gave; an event
// type the model does not score gives nothing and leaves no line.
func (m Model) Apply(s *Score, ev lead.Event) int {
	rule, ok := m.Events[ev.Type]
	if !ok || rule.Points == 0 {
		return 0
	}
	switch rule.Axis {
	case Intent:
		s.Intent += rule.Points
	default:
		s.Interest += rule.Points
	}
	s.add(Line{Rule: "event:" + string(ev.Type), Axis: rule.Axis, Count: 1, Points: rule.Points})
	return rule.Points
}

func (s *Score) add(l Line) {
	i := sort.Search(len(s.Breakdown), func(i int) bool { return s.Breakdown[i].Rule >= l.Rule })
	if i < len(s.Breakdown) && s.Breakdown[i].Rule == l.Rule {
		s.Breakdown[i].Count += l.Count
		s.Breakdown[i].Points += l.Points
		return
	}
	s.Breakdown = append(s.Breakdown, Line{})
	copy(s.Breakdown[i+1:], s.Breakdown[i:])
	s.Breakdown[i] = l
}

// Reset returns an empty score: a recycled lead starts again.
func (s Score) Reset() Score { return Score{} }
