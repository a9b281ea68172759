// Package scoring turns a lead's profile and engagement into a score that
// explains itself. It is pure and deterministic: the same model, profile,
// events and time give the same score on every worker and every replay,
// which is what lets it run inside a workflow. It never reads the clock;
// the caller says what time it is.
//
// A score has four parts: fit (explicit data: title, company size, BANT
// answers), interest and intent (behaviour), and adjustments (by journey
// steps). Behaviour fades with time when the model has a decay.
//
// State keeps running aggregates, not the event history: per rule a count,
// the raw points, the recent times a cap needs, and the decayed value
// (half-life) or the points of each recent day (step-down). Adding an event costs the same for a lead's first event and
// its ten-thousandth (see BenchmarkApply), and the state stays small
// enough to carry across continue-as-new.
package scoring

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/span"
)

// Axis is what a rule's points say about a lead.
type Axis string

// The axes. Interest and intent are behaviour; fit is the profile.
const (
	Interest   Axis = "interest"
	Intent     Axis = "intent"
	Fit        Axis = "fit"
	Adjustment Axis = "adjustment"
)

// Model is the scoring model a journey version carries.
type Model struct {
	// MQL is the score at which a lead becomes a Marketing Qualified Lead.
	MQL int `yaml:"mql" json:"mql"`
	// Events gives the points per engagement type.
	Events map[lead.EventType]EventRule `yaml:"events" json:"events"`
	// Combos are bonuses for doing several things close together.
	Combos []Combo `yaml:"combos,omitempty" json:"combos,omitempty"`
	// Fit scores the profile: explicit data and BANT answers.
	Fit []FitRule `yaml:"fit,omitempty" json:"fit,omitempty"`
	// Decay makes behaviour points fade while a lead is quiet.
	Decay *Decay `yaml:"decay,omitempty" json:"decay,omitempty"`
	// Grades name score ranges, as sales likes them: fit A–D,
	// engagement 1–4.
	Grades *Grades `yaml:"grades,omitempty" json:"grades,omitempty"`
}

// EventRule scores one engagement type.
type EventRule struct {
	Points int  `yaml:"points" json:"points"`
	Axis   Axis `yaml:"axis" json:"axis"`
	// Cap counts at most Max of these events per rolling period Per (page
	// views count at most 10 a week); the rest score nothing.
	Cap *Cap `yaml:"cap,omitempty" json:"cap,omitempty"`
	// Repeat changes the points once the event was counted After times:
	// 0 for "only the first few count", negative for "repeating it is a bad
	// sign".
	Repeat *Repeat `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	// Properties refine the points by what the event was about (which page,
	// which asset); the first that matches sets the points.
	Properties []PropertyRule `yaml:"properties,omitempty" json:"properties,omitempty"`
}

// Cap limits how many events of a type count per period.
type Cap struct {
	Max int           `yaml:"max" json:"max"`
	Per span.Duration `yaml:"per" json:"per"`
}

// Repeat gives other points from the (After+1)th counted event on.
type Repeat struct {
	After  int `yaml:"after" json:"after"`
	Points int `yaml:"points" json:"points"`
}

// PropertyRule sets the points of an event whose property matches.
type PropertyRule struct {
	Name string `yaml:"name" json:"name"`
	// Equals or Contains (case-insensitive) the property's value.
	Equals   string `yaml:"equals,omitempty" json:"equals,omitempty"`
	Contains string `yaml:"contains,omitempty" json:"contains,omitempty"`
	Points   int    `yaml:"points" json:"points"`
}

// Combo gives a bonus, once, when a lead did all of some things within a
// window, like attending a webinar and viewing pricing within a week.
type Combo struct {
	Name   string           `yaml:"name" json:"name"`
	All    []lead.EventType `yaml:"all" json:"all"`
	Within span.Duration    `yaml:"within" json:"within"`
	Points int              `yaml:"points" json:"points"`
	Axis   Axis             `yaml:"axis" json:"axis"`
}

// FitRule scores a profile field. Exactly one matcher is set; negative
// points mark a poor fit (a free-mail address, a competitor's domain).
type FitRule struct {
	// Name labels the rule in the breakdown; the field and matcher when
	// empty.
	Name  string `yaml:"name,omitempty" json:"name,omitempty"`
	Field string `yaml:"field" json:"field"`
	// Equals, OneOf and Contains compare case-insensitively; Contains
	// matches any of its strings inside the value.
	Equals   string   `yaml:"equals,omitempty" json:"equals,omitempty"`
	OneOf    []string `yaml:"one_of,omitempty" json:"one_of,omitempty"`
	Contains []string `yaml:"contains,omitempty" json:"contains,omitempty"`
	// Range matches a number (employees 200, revenue 10000000); Min is
	// inclusive and Max exclusive.
	Range  *Range `yaml:"range,omitempty" json:"range,omitempty"`
	Points int    `yaml:"points" json:"points"`
}

// Range is a numeric interval [Min, Max); either end may be open.
type Range struct {
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

// Decay fades behaviour points with their age: by half every HalfLife, or
// (step-down) by Percent for every full Every.
//
// Age counts whole UTC calendar days of journey time, from the day of the
// event to today: a score changes once a day, at midnight UTC, the same for
// every lead and worker, and an event late in the evening is a day old the
// next morning. Finer ages would move scores every millisecond and make
// each status query disagree with the last snapshot; the lead's own time
// zone would make two leads with the same history score differently.
type Decay struct {
	HalfLife span.Duration `yaml:"half_life,omitempty" json:"half_life,omitempty"`
	Every    span.Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Percent  int           `yaml:"percent,omitempty" json:"percent,omitempty"`
}

// Grades map thresholds to names; a score gets the name of the highest
// threshold it reaches, else Below.
type Grades struct {
	Fit        []Grade `yaml:"fit,omitempty" json:"fit,omitempty"`
	Engagement []Grade `yaml:"engagement,omitempty" json:"engagement,omitempty"`
}

// Grade is one named threshold.
type Grade struct {
	Name    string `yaml:"name" json:"name"`
	AtLeast int    `yaml:"at_least" json:"at_least"`
}

// Line is one rule's share of a score: how often it fired, the points it
// gave, and what they are worth now after decay.
type Line struct {
	Rule    string `json:"rule"`
	Axis    Axis   `json:"axis"`
	Count   int    `json:"count"`
	Points  int    `json:"points"`
	Decayed int    `json:"decayed"`
}

// Score is a lead's score at one moment, explained.
type Score struct {
	Fit      int `json:"fit"`
	Interest int `json:"interest"`
	Intent   int `json:"intent"`
	// Adjusted is what journey steps added or took away by hand.
	Adjusted        int    `json:"adjusted,omitempty"`
	FitGrade        string `json:"fit_grade,omitempty"`
	EngagementGrade string `json:"engagement_grade,omitempty"`
	// Breakdown has one line per rule that gave points, sorted by rule.
	Breakdown []Line `json:"breakdown,omitempty"`
}

// Behaviour is the engagement part of the score.
func (s Score) Behaviour() int { return s.Interest + s.Intent }

// Total is what thresholds compare with.
func (s Score) Total() int { return s.Fit + s.Interest + s.Intent + s.Adjusted }

// State is a lead's running aggregates.
type State struct {
	Rules map[string]*RuleState `json:"rules,omitempty"`
	// LastSeen is when each event type last happened (Unix ms), for combos.
	LastSeen map[lead.EventType]int64 `json:"last_seen,omitempty"`
	// Awarded holds the combos already given.
	Awarded map[string]bool `json:"awarded,omitempty"`
}

// RuleState aggregates one rule.
type RuleState struct {
	Axis   Axis `json:"axis"`
	Count  int  `json:"count"`
	Points int  `json:"points"`
	// Recent holds the times (Unix ms) of the last counted events, as many
	// as the rule's cap allows.
	Recent []int64 `json:"recent,omitempty"`
	// Value and AsOf hold half-life decay in O(1): exponentials compose,
	// so the decayed value at one day and that day are all it needs.
	Value float64 `json:"value,omitempty"`
	AsOf  int64   `json:"as_of,omitempty"`
	// Days holds the points per day (days since the Unix epoch), oldest
	// first, for step-down decay; days decayed to nothing are dropped.
	Days []DayPoints `json:"days,omitempty"`
}

// DayPoints is the points a rule gave on one day.
type DayPoints struct {
	Day    int64 `json:"day"`
	Points int   `json:"points"`
}

const dayMs = int64(24 * time.Hour / time.Millisecond)

// Apply adds one event to the state and returns the points it gave (0 for
// an event the model does not score, or one over a cap). at is when it
// happened, in the workflow's time.
func (m Model) Apply(s *State, ev lead.Event, at time.Time) int {
	ms := at.UnixMilli()
	if s.LastSeen == nil {
		s.LastSeen = map[lead.EventType]int64{}
	}
	s.LastSeen[ev.Type] = max(s.LastSeen[ev.Type], ms)
	given := 0
	if rule, ok := m.Events[ev.Type]; ok {
		given += s.add("event:"+string(ev.Type), rule.Axis, rule.points(ev, s.count("event:"+string(ev.Type))), ms, rule.Cap, m.Decay)
	}
	for _, c := range m.Combos {
		if s.Awarded[c.Name] || !slices.Contains(c.All, ev.Type) || !s.together(c, ms) {
			continue
		}
		if s.Awarded == nil {
			s.Awarded = map[string]bool{}
		}
		s.Awarded[c.Name] = true
		given += s.add("combo:"+c.Name, c.Axis, c.Points, ms, nil, m.Decay)
	}
	return given
}

// points is what an event scores before caps: refined by its properties,
// changed once repeated.
func (r EventRule) points(ev lead.Event, counted int) int {
	if r.Repeat != nil && counted >= r.Repeat.After {
		return r.Repeat.Points
	}
	for _, p := range r.Properties {
		v, ok := ev.Properties[p.Name]
		if !ok {
			continue
		}
		if (p.Equals != "" && strings.EqualFold(v, p.Equals)) ||
			(p.Contains != "" && strings.Contains(strings.ToLower(v), strings.ToLower(p.Contains))) {
			return p.Points
		}
	}
	return r.Points
}

func (s *State) count(rule string) int {
	if r, ok := s.Rules[rule]; ok {
		return r.Count
	}
	return 0
}

// together reports whether every event of a combo happened within its
// window of the newest of them.
func (s *State) together(c Combo, ms int64) bool {
	within := c.Within.Value().Milliseconds()
	for _, t := range c.All {
		seen, ok := s.LastSeen[t]
		if !ok || ms-seen > within || seen-ms > within {
			return false
		}
	}
	return true
}

// add records points for a rule unless the cap is full; it returns the
// points counted.
func (s *State) add(rule string, axis Axis, points int, ms int64, cap *Cap, decay *Decay) int {
	if s.Rules == nil {
		s.Rules = map[string]*RuleState{}
	}
	r, ok := s.Rules[rule]
	if !ok {
		r = &RuleState{Axis: axis}
		s.Rules[rule] = r
	}
	if cap != nil && cap.Max > 0 {
		// Counted if fewer than Max counted events fall in the period
		// before it.
		per := cap.Per.Value().Milliseconds()
		in := 0
		for _, t := range r.Recent {
			if ms-t < per && t <= ms {
				in++
			}
		}
		if in >= cap.Max {
			return 0
		}
		r.Recent = append(r.Recent, ms)
		if len(r.Recent) > cap.Max {
			r.Recent = r.Recent[len(r.Recent)-cap.Max:]
		}
	}
	r.Count++
	r.Points += points
	day := ms / dayMs
	switch {
	case decay == nil:
	case decay.HalfLife != "":
		if day >= r.AsOf {
			r.Value = r.Value*decay.factor(day-r.AsOf) + float64(points)
			r.AsOf = day
		} else {
			r.Value += float64(points) * decay.factor(r.AsOf-day)
		}
	default:
		r.addDay(day, points)
		// Drop what is worth nothing now, so a lead active for years
		// does not carry its whole history.
		for len(r.Days) > 0 && decay.factor(day-r.Days[0].Day) == 0 {
			r.Days = r.Days[1:]
		}
	}
	return points
}

func (r *RuleState) addDay(day int64, points int) {
	i, found := slices.BinarySearchFunc(r.Days, day, func(d DayPoints, day int64) int { return cmp.Compare(d.Day, day) })
	if found {
		r.Days[i].Points += points
		return
	}
	r.Days = slices.Insert(r.Days, i, DayPoints{Day: day, Points: points})
}

// Adjust adds points outside the model (an adjust_score step); they do not
// decay.
func (s *State) Adjust(rule string, points int) {
	if s.Rules == nil {
		s.Rules = map[string]*RuleState{}
	}
	r, ok := s.Rules[rule]
	if !ok {
		r = &RuleState{Axis: Adjustment}
		s.Rules[rule] = r
	}
	r.Count++
	r.Points += points
}

// ResetBehaviour forgets engagement and adjustments, as when sales recycles
// a lead: what made it look ready did not convince. Fit stays, since it is
// the profile's.
func (s *State) ResetBehaviour() { *s = State{} }

// Score evaluates the state for a profile at a time.
func (m Model) Score(s State, p lead.Profile, at time.Time) Score {
	var sc Score
	today := at.UnixMilli() / dayMs
	for _, rule := range slices.Sorted(maps.Keys(s.Rules)) {
		r := s.Rules[rule]
		l := Line{Rule: rule, Axis: r.Axis, Count: r.Count, Points: r.Points, Decayed: r.Points}
		if r.Axis != Adjustment && m.Decay != nil {
			l.Decayed = m.Decay.apply(r, today)
		}
		switch r.Axis {
		case Intent:
			sc.Intent += l.Decayed
		case Adjustment:
			sc.Adjusted += l.Decayed
		default:
			sc.Interest += l.Decayed
		}
		sc.Breakdown = append(sc.Breakdown, l)
	}
	for _, f := range m.Fit {
		if f.Matches(p) {
			sc.Fit += f.Points
			sc.Breakdown = append(sc.Breakdown, Line{Rule: "fit:" + f.label(), Axis: Fit, Count: 1, Points: f.Points, Decayed: f.Points})
		}
	}
	slices.SortStableFunc(sc.Breakdown, func(a, b Line) int { return cmp.Compare(a.Rule, b.Rule) })
	if g := m.Grades; g != nil {
		sc.FitGrade = grade(g.Fit, sc.Fit, "D")
		sc.EngagementGrade = grade(g.Engagement, sc.Behaviour(), "4")
	}
	return sc
}

// apply is what a rule's points are worth today.
func (d *Decay) apply(r *RuleState, today int64) int {
	if d.HalfLife != "" {
		return int(math.Round(r.Value * d.factor(max(today-r.AsOf, 0))))
	}
	total := 0.0
	for _, b := range r.Days {
		total += float64(b.Points) * d.factor(max(today-b.Day, 0))
	}
	return int(math.Round(total))
}

// factor is what a point is worth after ageDays: by whole days, so a score
// changes once a day, not every millisecond.
func (d *Decay) factor(ageDays int64) float64 {
	age := time.Duration(ageDays) * 24 * time.Hour
	switch {
	case d.HalfLife != "":
		return math.Exp2(-float64(age) / float64(d.HalfLife.Value()))
	case d.Every != "" && d.Percent > 0:
		steps := int64(age / d.Every.Value())
		f := math.Pow(1-float64(d.Percent)/100, float64(steps))
		if f < 1e-4 {
			return 0 // gone: lets old days be dropped
		}
		return f
	}
	return 1
}

// Matches reports whether the profile's field matches the rule's matcher.
func (f FitRule) Matches(p lead.Profile) bool {
	v := strings.TrimSpace(p.Field(f.Field))
	if v == "" {
		return false
	}
	switch {
	case f.Equals != "":
		return strings.EqualFold(v, f.Equals)
	case len(f.OneOf) > 0:
		return slices.ContainsFunc(f.OneOf, func(o string) bool { return strings.EqualFold(v, o) })
	case len(f.Contains) > 0:
		lv := strings.ToLower(v)
		return slices.ContainsFunc(f.Contains, func(c string) bool { return strings.Contains(lv, strings.ToLower(c)) })
	case f.Range != nil:
		n, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64)
		return err == nil && f.Range.contains(n)
	}
	return false
}

func (r Range) contains(n float64) bool {
	return (r.Min == nil || n >= *r.Min) && (r.Max == nil || n < *r.Max)
}

func (f FitRule) label() string {
	if f.Name != "" {
		return f.Name
	}
	switch {
	case f.Equals != "":
		return f.Field + "=" + f.Equals
	case len(f.OneOf) > 0:
		return f.Field + " in " + strings.Join(f.OneOf, "|")
	case len(f.Contains) > 0:
		return f.Field + " contains " + strings.Join(f.Contains, "|")
	case f.Range != nil:
		return f.Field + " in range"
	}
	return f.Field
}

func grade(grades []Grade, score int, below string) string {
	best, name := math.MinInt, below
	for _, g := range grades {
		if score >= g.AtLeast && g.AtLeast > best {
			best, name = g.AtLeast, g.Name
		}
	}
	return name
}
