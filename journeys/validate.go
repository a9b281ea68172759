package journeys

import (
	"fmt"
	"maps"
	"math"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/zones"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// templatePrefix is what Go's template errors start with: our wrapping and
// the template's name, which a marketer does not need.
var templatePrefix = regexp.MustCompile(`^(content [^:]*: )?template: [^:]*:(\d+):(\d+: )?`)

// templateMessage shortens a template error to its line and reason.
func templateMessage(err error) string {
	msg := err.Error()
	if m := templatePrefix.FindStringSubmatch(msg); m != nil {
		return "line " + m[2] + " of the template: " + strings.TrimSpace(msg[len(m[0]):])
	}
	return msg
}

var stepKinds = []string{"send", "wait", "wait_until", "wait_for", "task", "branch", "adjust_score", "set_stage", "handoff", "goto", "exit"}

// StepKinds lists the step kinds, in the order the docs present them.
func StepKinds() []string { return append([]string(nil), stepKinds...) }

type validator struct {
	file     string
	tree     *ast.File
	problems Problems
	// unknownAt holds the paths of mappings with unknown keys.
	unknownAt map[string]bool
}

func (v *validator) errorf(path, format string, args ...any) {
	line, col := position(v.tree, path)
	v.problems = append(v.problems, Problem{File: v.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) keyErrorf(path, key, format string, args ...any) {
	line, col := keyPosition(v.tree, path, key)
	v.problems = append(v.problems, Problem{File: v.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) sort() {
	sort.SliceStable(v.problems, func(i, j int) bool {
		a, b := v.problems[i], v.problems[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

func (v *validator) id(path, what, id string) {
	switch {
	case id == "":
		v.errorf(path, "%s needs an id", what)
	case !idPattern.MatchString(id):
		v.errorf(path, "%s id %q: use lower-case letters, digits, - and _ (like %q)", what, id, strings.ToLower(strings.ReplaceAll(id, " ", "-")))
	}
}

func (v *validator) eventTypes(path string, types []lead.EventType) {
	for i, t := range types {
		if !t.Known() {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "unknown event type %q; known types: %s", t, lead.KnownEventTypeList())
		}
	}
}

func (v *validator) duration(path, what string, d Duration) {
	if _, err := ParseDuration(string(d)); err != nil {
		v.errorf(path, "%s: %v", what, err)
	}
}

func (v *validator) journey(j *Journey) {
	v.id("$.id", "journey", j.ID)
	if strings.TrimSpace(j.Name) == "" {
		v.errorf("$.name", "journey needs a name, shown to marketers in lists and reports")
	}
	if len(j.Stages) == 0 {
		v.errorf("$.stages", "journey needs at least one stage with steps")
	}

	stages := map[string]bool{}
	steps := map[string]bool{}
	for si, st := range j.Stages {
		path := fmt.Sprintf("$.stages[%d]", si)
		v.id(path+".id", "stage", st.ID)
		if stages[st.ID] {
			v.errorf(path+".id", "stage %q is defined twice", st.ID)
		}
		stages[st.ID] = true
		if len(st.Steps) == 0 {
			v.errorf(path, "stage %q has no steps", st.ID)
		}
		for ti, s := range st.Steps {
			spath := fmt.Sprintf("%s.steps[%d]", path, ti)
			v.id(spath+".id", "step", s.ID)
			if steps[s.ID] {
				v.errorf(spath+".id", "step %q is defined twice; step ids must be unique across stages", s.ID)
			}
			steps[s.ID] = true
		}
	}

	content := map[string]bool{}
	for ci, c := range j.Content {
		path := fmt.Sprintf("$.content[%d]", ci)
		v.id(path+".id", "content", c.ID)
		if content[c.ID] {
			v.errorf(path+".id", "content %q is defined twice", c.ID)
		}
		content[c.ID] = true
		if !stages[c.Stage] {
			v.errorf(path+".stage", "content %q: stage %q is not one of the journey's stages (%s)", c.ID, c.Stage, strings.Join(stageIDs(j), ", "))
		}
		if strings.TrimSpace(c.Subject) == "" {
			v.errorf(path, "content %q needs a subject", c.ID)
		}
		if c.HTML == "" && c.Text == "" {
			v.errorf(path, "content %q needs an html or a text body (better both)", c.ID)
		}
		if c.Cost < 0 {
			v.errorf(path+".cost", "content %q: cost cannot be negative", c.ID)
		}
		v.template(path, c)
	}

	brokenRefs := 0
	ref := func(path, what, target string) {
		if target != "" && !steps[target] {
			brokenRefs++
			v.errorf(path, "%s %q is not a step of this journey", what, target)
		}
	}
	stepPath := map[string]string{}
	for si, st := range j.Stages {
		for ti, s := range st.Steps {
			path := fmt.Sprintf("$.stages[%d].steps[%d]", si, ti)
			stepPath[s.ID] = path
			v.step(path, s, j, stages, content, ref)
		}
	}
	if brokenRefs == 0 {
		// The graph is only meaningful once every step reference resolves.
		for _, id := range j.unreachable() {
			v.errorf(stepPath[id]+".id", "step %q is unreachable: no step leads to it and it does not start a stage; remove it, or point a goto, next or branch at it", id)
		}
		for _, loop := range j.loopsWithoutWait() {
			v.errorf(stepPath[loop[0]]+".id", "steps %s form a loop without a wait: a lead would go round it forever; add a wait, wait_for or task to the loop", strings.Join(quoteAll(loop), " → "))
		}
	}
	v.rules(j, stages)

	v.scoring(j.Scoring)
	v.reachable(j)
	if j.Handoff.MinScore <= 0 {
		v.errorf("$.handoff.min_score", "handoff needs min_score above zero: the score at which a lead goes to sales")
	} else if j.Scoring.MQL > j.Handoff.MinScore {
		v.errorf("$.scoring.mql", "mql %d is above the hand-off score %d; a lead must be an MQL before it is sales ready", j.Scoring.MQL, j.Handoff.MinScore)
	}
	v.eventTypes("$.exit_on", j.ExitOn)
	// A stage of another journey is checked when this one is published.
	if rc := j.Recycle; rc != nil && (rc.Journey == "" || rc.Journey == j.ID) && rc.Stage != "" && !stages[rc.Stage] {
		v.errorf("$.recycle.stage", "recycle stage %q is not one of the journey's stages (%s)", j.Recycle.Stage, strings.Join(stageIDs(j), ", "))
	}
}

// rules checks the journey-wide rules: entry, re-entry, personas, time
// zone, send window, frequency cap, maximum duration.
func (v *validator) rules(j *Journey, stages map[string]bool) {
	for i, e := range j.Entry {
		path := fmt.Sprintf("$.entry[%d]", i)
		if (e.Source == "") == (e.Event == "") {
			v.errorf(path, "entry rule needs either source (where the lead came from) or event (what it did), not both")
		}
		if e.Event != "" && !e.Event.Known() {
			v.errorf(path+".event", "unknown event type %q; known types: %s", e.Event, lead.KnownEventTypeList())
		}
		if e.Stage != "" && !stages[e.Stage] {
			v.errorf(path+".stage", "stage %q is not one of the journey's stages (%s)", e.Stage, strings.Join(stageIDs(j), ", "))
		}
	}
	if r := j.Reentry; r != nil && r.After != "" {
		v.duration("$.reentry.after", "reentry after", r.After)
	}
	personas := map[string]bool{}
	for i, p := range j.Personas {
		v.id(fmt.Sprintf("$.personas[%d]", i), "persona", p)
		personas[p] = true
	}
	for ci, c := range j.Content {
		if len(c.Variants) == 0 {
			continue
		}
		path := fmt.Sprintf("$.content[%d]", ci)
		for _, p := range j.Personas {
			if _, ok := c.Variants[p]; !ok {
				v.keyErrorf(path, "variants", "content %q has no variant for persona %q, which the journey targets", c.ID, p)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.Variants)) {
			vpath := path + ".variants." + name
			if !personas[name] {
				v.keyErrorf(path+".variants", name, "content %q has a variant for %q, which is not one of the journey's personas (%s)", c.ID, name, strings.Join(j.Personas, ", "))
			}
			vr := c.Variants[name]
			if strings.TrimSpace(vr.Subject) == "" {
				v.errorf(vpath, "content %q variant %q needs a subject", c.ID, name)
			}
			v.template(vpath, Content{ID: c.ID + "/" + name, Subject: vr.Subject, HTML: vr.HTML, Text: vr.Text})
		}
	}
	if j.TimeZone != "" {
		if _, err := zones.Load(j.TimeZone); err != nil {
			v.errorf("$.time_zone", "time zone %q is not an IANA zone name (like Europe/Berlin or America/New_York)", j.TimeZone)
		}
	}
	if w := j.SendWindow; w != nil {
		for i, d := range w.Days {
			if _, ok := weekdays[strings.ToLower(d)]; !ok {
				v.errorf(fmt.Sprintf("$.send_window.days[%d]", i), "day %q: use mon, tue, wed, thu, fri, sat or sun", d)
			}
		}
		from, errFrom := parseClock(w.From)
		to, errTo := parseClock(w.To)
		if errFrom != nil {
			v.errorf("$.send_window.from", "send window from: %v", errFrom)
		}
		if errTo != nil {
			v.errorf("$.send_window.to", "send window to: %v", errTo)
		}
		if errFrom == nil && errTo == nil && from >= to {
			v.errorf("$.send_window.to", "send window ends (%s) before it starts (%s)", w.To, w.From)
		}
	}
	if c := j.FrequencyCap; c != nil {
		if c.Max <= 0 {
			v.errorf("$.frequency_cap.max", "frequency cap max must be at least 1 email")
		}
		v.duration("$.frequency_cap.per", "frequency cap per", c.Per)
	}
	if j.MaxDuration != "" {
		v.duration("$.max_duration", "max_duration", j.MaxDuration)
	}
	if r := j.Recycle; r != nil && r.Journey != "" {
		v.id("$.recycle.journey", "recycle journey", r.Journey)
	}
}

func quoteAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("%q", id)
	}
	return out
}

func (v *validator) step(path string, s Step, j *Journey, stages, content map[string]bool, ref func(path, what, target string)) {
	kinds := s.kinds()
	switch len(kinds) {
	case 0:
		if !v.unknownAt[path] { // the unknown key is the mistake
			v.errorf(path, "step %q does nothing; give it one of: %s", s.ID, strings.Join(stepKinds, ", "))
		}
	case 1:
	default:
		v.errorf(path, "step %q has %d kinds (%s); a step does one thing, split it into steps", s.ID, len(kinds), strings.Join(kinds, ", "))
	}
	ref(path+".next", "next", s.Next)
	switch {
	case s.Send != "":
		if !content[s.Send] {
			v.errorf(path+".send", "content %q is not in the journey's content catalogue", s.Send)
		}
	case s.Wait != "":
		v.duration(path+".wait", "wait", s.Wait)
	case s.WaitFor != nil:
		w := s.WaitFor
		if len(w.Events) == 0 {
			v.errorf(path+".wait_for", "wait_for needs events: the engagement it waits for")
		}
		v.eventTypes(path+".wait_for.events", w.Events)
		v.duration(path+".wait_for.timeout", "wait_for timeout", w.Timeout)
		for _, t := range slices.Sorted(maps.Keys(w.On)) {
			switch {
			case !t.Known():
				v.keyErrorf(path+".wait_for.on", string(t), "unknown event type %q; known types: %s", t, lead.KnownEventTypeList())
			case !contains(w.Events, t):
				v.keyErrorf(path+".wait_for.on", string(t), "on %q: the step does not wait for %s; add it to events", t, t)
			}
			ref(path+".wait_for.on."+string(t), "on "+string(t), w.On[t])
		}
		ref(path+".wait_for.on_event", "on_event", w.OnEvent)
		ref(path+".wait_for.on_timeout", "on_timeout", w.OnTimeout)
	case s.Branch != nil:
		b := s.Branch
		if b.Otherwise == "" {
			v.errorf(path+".branch", "branch has no otherwise: say where a lead goes when no case holds")
		}
		ref(path+".branch.otherwise", "otherwise", b.Otherwise)
		for i, c := range b.Cases {
			cpath := fmt.Sprintf("%s.branch.cases[%d]", path, i)
			ref(cpath+".goto", "goto", c.Goto)
			if c.Goto == "" {
				v.errorf(cpath, "branch case needs goto: the step to go to when it holds")
			}
			v.condition(cpath+".when", c.When, stages)
		}
	case s.WaitUntil != nil:
		w := s.WaitUntil
		switch {
		case (w.Date == "") == !w.SendWindow:
			v.errorf(path+".wait_until", "wait_until needs either date (like 2026-12-01) or send_window: true")
		case w.Date != "":
			if _, err := ParseDate(w.Date, time.UTC); err != nil {
				v.errorf(path+".wait_until.date", "%v", err)
			}
		case j.SendWindow == nil:
			v.errorf(path+".wait_until.send_window", "wait_until send_window, but the journey has no send_window")
		}
	case s.Task != nil:
		t := s.Task
		if strings.TrimSpace(t.Title) == "" {
			v.errorf(path+".task", "task needs a title, like \"Call {{.FirstName}} at {{.Company}}\"")
		} else if _, err := renderText("task", t.Title, sampleData); err != nil {
			v.errorf(path+".task.title", "task title: template error: %s", templateMessage(err))
		}
		if t.Assignee != "" {
			if _, err := mail.ParseAddress(t.Assignee); err != nil {
				v.errorf(path+".task.assignee", "task assignee %q is not an e-mail address", t.Assignee)
			}
		}
		if t.Cost < 0 {
			v.errorf(path+".task.cost", "task cost cannot be negative")
		}
		v.duration(path+".task.timeout", "task timeout", t.Timeout)
		if len(t.Outcomes) == 0 {
			v.errorf(path+".task", "task needs outcomes: what the rep may report (like reached, no_answer) and the step each leads to")
		}
		for _, o := range slices.Sorted(maps.Keys(t.Outcomes)) {
			if !idPattern.MatchString(o) {
				v.keyErrorf(path+".task.outcomes", o, "outcome %q: use lower-case letters, digits, - and _", o)
			}
			ref(path+".task.outcomes."+o, "outcome "+o, t.Outcomes[o])
		}
		ref(path+".task.on_timeout", "on_timeout", t.OnTimeout)
	case s.SetStage != "":
		if !stages[s.SetStage] {
			v.errorf(path+".set_stage", "stage %q is not one of the journey's stages", s.SetStage)
		}
	case s.Goto != "":
		ref(path+".goto", "goto", s.Goto)
	}
}

func (v *validator) condition(path string, c Condition, stages map[string]bool) {
	if c.ScoreAtLeast == nil && c.ScoreBelow == nil && len(c.Engaged) == 0 && c.Stage == "" && c.Field == nil {
		v.errorf(path, "condition is empty; use score_at_least, score_below, engaged, stage or field")
	}
	v.eventTypes(path+".engaged", c.Engaged)
	if c.Stage != "" && !stages[c.Stage] {
		v.errorf(path+".stage", "stage %q is not one of the journey's stages", c.Stage)
	}
	if c.Field != nil && (c.Field.Name == "" || len(c.Field.OneOf) == 0) {
		v.errorf(path+".field", "field condition needs name and one_of")
	}
}

func (v *validator) scoring(m scoring.Model) {
	if m.MQL < 0 {
		v.errorf("$.scoring.mql", "mql cannot be negative")
	}
	axis := func(path, what string, a scoring.Axis) {
		if a != scoring.Interest && a != scoring.Intent {
			v.errorf(path, "%s needs axis: interest or intent", what)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(m.Events)) {
		path := "$.scoring.events." + string(t)
		if !t.Known() {
			v.keyErrorf("$.scoring.events", string(t), "unknown event type %q; known types: %s", t, lead.KnownEventTypeList())
			continue
		}
		r := m.Events[t]
		axis(path, fmt.Sprintf("event %q", t), r.Axis)
		if c := r.Cap; c != nil {
			if c.Max <= 0 {
				v.errorf(path+".cap.max", "cap max must be at least 1: how many %s count per period", t)
			}
			v.duration(path+".cap.per", "cap per", c.Per)
		}
		if r.Repeat != nil && r.Repeat.After < 1 {
			v.errorf(path+".repeat.after", "repeat after must be at least 1: how many %s count fully", t)
		}
		for i, p := range r.Properties {
			ppath := fmt.Sprintf("%s.properties[%d]", path, i)
			if p.Name == "" {
				v.errorf(ppath, "property rule needs name: the event property it looks at, like page or asset")
			}
			if (p.Equals == "") == (p.Contains == "") {
				v.errorf(ppath, "property rule needs either equals or contains")
			}
		}
	}
	for i, c := range m.Combos {
		path := fmt.Sprintf("$.scoring.combos[%d]", i)
		v.id(path+".name", "combo", c.Name)
		if len(c.All) < 2 {
			v.errorf(path+".all", "combo %q needs at least two event types in all", c.Name)
		}
		v.eventTypes(path+".all", c.All)
		v.duration(path+".within", "combo within", c.Within)
		axis(path, fmt.Sprintf("combo %q", c.Name), c.Axis)
	}
	v.fit(m.Fit)
	if d := m.Decay; d != nil {
		switch {
		case d.HalfLife != "" && (d.Every != "" || d.Percent != 0):
			v.errorf("$.scoring.decay", "decay is either half_life or every with percent (step-down), not both")
		case d.HalfLife != "":
			v.duration("$.scoring.decay.half_life", "decay half_life", d.HalfLife)
		case d.Every == "" || d.Percent <= 0 || d.Percent > 100:
			v.errorf("$.scoring.decay", "decay needs half_life (like 30d), or every (like 30d) with percent from 1 to 100")
		default:
			v.duration("$.scoring.decay.every", "decay every", d.Every)
		}
	}
	if g := m.Grades; g != nil {
		v.grades("$.scoring.grades.fit", g.Fit)
		v.grades("$.scoring.grades.engagement", g.Engagement)
	}
}

// fit checks the fit rules, and that no two numeric ranges on one field
// overlap (a lead would get both, which is rarely what was meant).
func (v *validator) fit(rules []scoring.FitRule) {
	type span struct {
		i        int
		min, max float64
	}
	ranges := map[string][]span{}
	for i, f := range rules {
		path := fmt.Sprintf("$.scoring.fit[%d]", i)
		if f.Field == "" {
			v.errorf(path, "fit rule needs field: the profile field it scores, like title or employees")
		}
		n := 0
		for _, set := range []bool{f.Equals != "", len(f.OneOf) > 0, len(f.Contains) > 0, f.Range != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.errorf(path, "fit rule needs exactly one of equals, one_of, contains or range")
		}
		if r := f.Range; r != nil {
			lo, hi := math.Inf(-1), math.Inf(1)
			if r.Min != nil {
				lo = *r.Min
			}
			if r.Max != nil {
				hi = *r.Max
			}
			if lo >= hi {
				v.errorf(path+".range", "range min %v is not below max %v", lo, hi)
				continue
			}
			for _, other := range ranges[f.Field] {
				if lo < other.max && other.min < hi {
					v.errorf(path+".range", "range overlaps the %s range of fit rule %d: a lead would score both", f.Field, other.i+1)
				}
			}
			ranges[f.Field] = append(ranges[f.Field], span{i, lo, hi})
		}
	}
}

func (v *validator) grades(path string, gs []scoring.Grade) {
	seen := map[int]bool{}
	for i, g := range gs {
		if g.Name == "" {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "grade needs a name, like A or 1")
		}
		if seen[g.AtLeast] {
			v.errorf(fmt.Sprintf("%s[%d].at_least", path, i), "two grades start at %d", g.AtLeast)
		}
		seen[g.AtLeast] = true
	}
}

// reachable checks thresholds against what the model can give at most:
// a threshold no lead can reach is a journey that never hands off.
func (v *validator) reachable(j *Journey) {
	m := j.Scoring
	behaviour := false
	for _, r := range m.Events {
		if r.Points > 0 || slices.ContainsFunc(r.Properties, func(p scoring.PropertyRule) bool { return p.Points > 0 }) {
			behaviour = true
		}
	}
	maxFit := 0
	best := map[string]int{}
	for _, f := range m.Fit {
		// Rules on one field can all match (contains) — count each field's
		// positive rules in full, which is the most a lead could get.
		if f.Points > 0 {
			best[f.Field] += f.Points
		}
	}
	for _, p := range best {
		maxFit += p
	}
	h := j.Handoff
	if h.MinScore > 0 && !behaviour && maxFit < h.MinScore {
		v.errorf("$.handoff.min_score", "no lead can reach %d: the model gives at most %d fit points and no behaviour points", h.MinScore, maxFit)
	}
	if h.FitAtLeast != nil && *h.FitAtLeast > maxFit {
		v.errorf("$.handoff.fit_at_least", "no lead can reach fit %d: the fit rules give at most %d", *h.FitAtLeast, maxFit)
	}
	if h.BehaviourAtLeast != nil && *h.BehaviourAtLeast > 0 && !behaviour {
		v.errorf("$.handoff.behaviour_at_least", "no lead can reach behaviour %d: no event gives points", *h.BehaviourAtLeast)
	}
	if g := m.Grades; g != nil {
		for i, gr := range g.Fit {
			if gr.AtLeast > maxFit {
				v.errorf(fmt.Sprintf("$.scoring.grades.fit[%d].at_least", i), "no lead can reach fit grade %s (%d): the fit rules give at most %d", gr.Name, gr.AtLeast, maxFit)
			}
		}
	}
}

// template parses and trial-renders each of a content item's templates with
// sample data, so a template that does not parse or names a field leads do
// not have fails now, at its line, rather than at the first send.
func (v *validator) template(path string, c Content) {
	sample := sampleData
	for _, part := range []struct {
		key  string
		item Content
	}{
		{"subject", Content{ID: c.ID, Subject: c.Subject}},
		{"html", Content{ID: c.ID, HTML: c.HTML}},
		{"text", Content{ID: c.ID, Text: c.Text}},
	} {
		if _, err := part.item.Render(sample); err != nil {
			v.errorf(path+"."+part.key, "content %q %s: template error: %s (templates can use .FirstName, .LastName, .Email, .Company, .Title, .Fields and .UnsubscribeURL)", c.ID, part.key, templateMessage(err))
		}
	}
}

// sampleData is what templates are trial-rendered with.
var sampleData = TemplateData{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Company: "Analytical Engines", Title: "CTO", Fields: map[string]string{}, UnsubscribeURL: "https://example.com/u/x"}

func contains(xs []lead.EventType, t lead.EventType) bool {
	for _, x := range xs {
		if x == t {
			return true
		}
	}
	return false
}

func stageIDs(j *Journey) []string {
	ids := make([]string, len(j.Stages))
	for i, s := range j.Stages {
		ids[i] = s.ID
	}
	return ids
}
