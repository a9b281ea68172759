package journeys

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/zones"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

type validator struct {
	file string
	pos  positions
	// shaky holds the paths the shape walk reported, and the mappings
	// holding them: a mistake there is already said, and a consequence of
	// it (a value it nulled) would only repeat it.
	shaky map[string]bool
	// now is the present for date checks; zero skips them.
	now time.Time
	// src is the normalised file, and lines it split, for the positions
	// of template errors.
	src      []byte
	lines    []string
	problems Problems
	warnings Problems
	// stageList is the journey's stages, for messages.
	stageList string
	stages    map[string]bool
	// setsStage holds, per stage, the stages its set_stage steps move a
	// lead to: a set_stage holds until the lead enters another stage's step.
	setsStage map[string]map[string]bool
	// trialOutput is what trial renders wrote so far; past maxTrialOutput
	// the rest are not tried (trialsStopped).
	trialOutput   int
	trialsStopped bool
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.shaky[path] {
		return
	}
	line, col := v.pos.position(path)
	v.problemAt(line, col, false, format, args...)
}

func (v *validator) warnf(path, format string, args ...any) {
	line, col := v.pos.position(path)
	v.problemAt(line, col, true, format, args...)
}

func (v *validator) keyErrorf(path, key, format string, args ...any) {
	if v.shaky[path+"."+key] {
		return
	}
	line, col := v.pos.keyPosition(path, key)
	v.problemAt(line, col, false, format, args...)
}

// problemAt records a problem. A long value in it is cut short: an ID can
// be a 500 KB line, and one message can quote it for each reference.
func (v *validator) problemAt(line, col int, warning bool, format string, args ...any) {
	for i, a := range args {
		if r := reflect.ValueOf(a); r.Kind() == reflect.String && r.Len() > maxQuoted {
			args[i] = cut(r.String(), maxQuoted)
		}
	}
	p := Problem{File: v.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...), Warning: warning}
	if warning {
		v.warnings = append(v.warnings, p)
	} else {
		v.problems = append(v.problems, p)
	}
}

// maxQuoted is the longest value a message quotes whole; the journey's
// own vocabulary lists (event types) are shorter.
const maxQuoted = 400

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

	v.stageList = few(stageIDs(j))
	stages := map[string]bool{}
	v.stages = stages
	v.setsStage = map[string]map[string]bool{}
	for _, st := range j.Stages {
		for _, s := range st.Steps {
			if s.SetStage != "" {
				if v.setsStage[st.ID] == nil {
					v.setsStage[st.ID] = map[string]bool{}
				}
				v.setsStage[st.ID][s.SetStage] = true
			}
		}
	}
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
			v.errorf(path+".stage", "content %q: stage %q is not one of the journey's stages (%s)", c.ID, c.Stage, v.stageList)
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
		v.content(path, c.ID, c.Subject, c.Text, c.HTML)
	}

	brokenRefs := 0
	ref := func(path, what, target string) {
		if target != "" && !steps[target] {
			brokenRefs++
			v.errorf(path, "%s %q is not a step of this journey", what, target)
		}
	}
	stepPath := map[string]string{}
	contentStage := map[string]string{}
	for _, c := range j.Content {
		if _, ok := contentStage[c.ID]; !ok {
			contentStage[c.ID] = c.Stage
		}
	}
	m := maxScore(j)
	for si, st := range j.Stages {
		for ti, s := range st.Steps {
			path := fmt.Sprintf("$.stages[%d].steps[%d]", si, ti)
			stepPath[s.ID] = path
			v.step(path, s, st.ID, j, stages, content, ref, m)
			if s.Send != "" && stages[contentStage[s.Send]] && contentStage[s.Send] != st.ID {
				v.warnf(path+".send", "content %q is for the %s stage, but this step sends it in the %s stage; move the step, or set the content's stage to %s", s.Send, contentStage[s.Send], st.ID, st.ID)
			}
		}
	}
	if brokenRefs == 0 {
		// The graph is only meaningful once every step reference resolves.
		g := j.graph()
		for _, id := range g.unreachable() {
			v.errorf(stepPath[id]+".id", "step %q is unreachable: no step leads to it and it does not start a stage; remove it, or point a goto, next or branch at it", id)
		}
		for _, loop := range g.loopsWithoutWait() {
			v.errorf(stepPath[loop[0]]+".id", "steps %s form a loop without a wait: a lead would go round it forever; add a wait, wait_for or task to the loop", fewJoined(quoteAll(loop), " → "))
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
	if g := j.Goal; g != nil {
		if len(g.Events) == 0 && len(g.Verdicts) == 0 {
			v.errorf("$.goal", "goal needs events (like opportunity_created, customer_won), verdicts ([accepted]), or both")
		}
		v.eventTypes("$.goal.events", g.Events)
		for i, t := range g.Events {
			if slices.Contains(j.ExitOn, t) {
				v.errorf(fmt.Sprintf("$.goal.events[%d]", i), "%s is both a goal and in exit_on; a lead that reaches it would leave, not succeed", t)
			}
		}
		for i, verdict := range g.Verdicts {
			if verdict != "accepted" {
				v.errorf(fmt.Sprintf("$.goal.verdicts[%d]", i), "goal verdict %q: only accepted is a goal", verdict)
			}
		}
	}
	// A stage of another journey is checked when this one is published.
	if rc := j.Recycle; rc != nil && (rc.Journey == "" || rc.Journey == j.ID) && rc.Stage != "" && !stages[rc.Stage] {
		v.errorf("$.recycle.stage", "recycle stage %q is not one of the journey's stages (%s)", j.Recycle.Stage, v.stageList)
	}
	if h := j.Handoff.SalesEmail; h != "" && !isAddress(h) {
		v.errorf("$.handoff.sales_email", "sales_email %q is not an e-mail address; write one address, like sales@example.com", h)
	}
	if rt := j.Handoff.Routing; rt != nil {
		v.routing(rt)
	}
	if u := j.Handoff.CRMURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			v.errorf("$.handoff.crm_url", "crm_url %q is not an http(s) URL; write the CRM endpoint hand-offs are posted to, like https://crm.example.com/hooks/nurture", u)
		}
	}
	switch j.OnContentError {
	case "", ContentErrorExit, ContentErrorSkip:
	default:
		v.errorf("$.on_content_error", "on_content_error %q: use exit (the lead leaves the journey, the default) or skip (the email is skipped and the lead goes on)", j.OnContentError)
	}
}

// isAddress reports whether s is one bare e-mail address, as the mailer
// needs it: no display name, no list.
func isAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == strings.TrimSpace(s) && strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".")
}

// few lists names for a message, the first ten of them.
func few(names []string) string { return fewJoined(names, ", ") }

func fewJoined(names []string, sep string) string {
	if len(names) <= 10 {
		return strings.Join(names, sep)
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:10], sep), len(names)-10)
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
			v.errorf(path+".stage", "stage %q is not one of the journey's stages (%s)", e.Stage, v.stageList)
		}
	}
	if r := j.Reentry; r != nil && r.After != "" {
		v.duration("$.reentry.after", "reentry after", r.After)
	}
	personaList := few(j.Personas)
	personas := map[string]bool{}
	var uniquePersonas []string
	for i, p := range j.Personas {
		v.id(fmt.Sprintf("$.personas[%d]", i), "persona", p)
		if personas[p] {
			v.errorf(fmt.Sprintf("$.personas[%d]", i), "persona %q is listed twice", p)
			continue
		}
		personas[p] = true
		uniquePersonas = append(uniquePersonas, p)
	}
	for ci, c := range j.Content {
		if len(c.Variants) == 0 {
			continue
		}
		path := fmt.Sprintf("$.content[%d]", ci)
		// Counted, not searched persona by persona: a file with thousands
		// of personas and content items must not take their product.
		have := 0
		for name := range c.Variants {
			if personas[name] {
				have++
			}
		}
		if missing := len(personas) - have; missing > 0 {
			var first []string
			for _, p := range uniquePersonas {
				if _, ok := c.Variants[p]; !ok {
					first = append(first, fmt.Sprintf("%q", p))
					if len(first) == 3 {
						break
					}
				}
			}
			if missing == 1 {
				v.keyErrorf(path, "variants", "content %q has no variant for persona %s, which the journey targets", c.ID, first[0])
			} else {
				more := ""
				if missing > len(first) {
					more = fmt.Sprintf(" and %d more", missing-len(first))
				}
				v.keyErrorf(path, "variants", "content %q has no variants for personas %s%s, which the journey targets", c.ID, strings.Join(first, ", "), more)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.Variants)) {
			vpath := path + ".variants." + name
			if !personas[name] {
				v.keyErrorf(path+".variants", name, "content %q has a variant for %q, which is not one of the journey's personas (%s)", c.ID, name, personaList)
			}
			vr := c.Variants[name]
			if strings.TrimSpace(vr.Subject) == "" {
				v.errorf(vpath, "content %q variant %q needs a subject", c.ID, name)
			}
			if vr.HTML == "" && vr.Text == "" {
				v.errorf(vpath, "content %q variant %q needs an html or a text body (better both): a variant replaces the subject and both bodies", c.ID, name)
			}
			v.content(vpath, c.ID+"/"+name, vr.Subject, vr.Text, vr.HTML)
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

func (v *validator) step(path string, s Step, stage string, j *Journey, stages, content map[string]bool, ref func(path, what, target string), most score) {
	kinds := s.kinds()
	switch len(kinds) {
	case 0:
		if !v.shaky[path] { // the unknown key or the bad value is the mistake
			v.errorf(path, "step %q does nothing; give it one of: %s", s.ID, kindList(StepKinds()))
		}
	case 1:
	default:
		v.errorf(path, "step %q has %d kinds (%s); a step does one thing, split it into steps", s.ID, len(kinds), kindList(kinds))
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
		waits := map[lead.EventType]bool{}
		for _, t := range w.Events {
			waits[t] = true
		}
		for _, t := range slices.Sorted(maps.Keys(w.On)) {
			switch {
			case !t.Known():
				v.keyErrorf(path+".wait_for.on", string(t), "unknown event type %q; known types: %s", t, lead.KnownEventTypeList())
			case !waits[t]:
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
		first := map[string]int{}
		for i, c := range b.Cases {
			cpath := fmt.Sprintf("%s.branch.cases[%d]", path, i)
			ref(cpath+".goto", "goto", c.Goto)
			if c.Goto == "" {
				v.errorf(cpath, "branch case needs goto: the step to go to when it holds")
			}
			v.condition(cpath+".when", c.When, stages)
			v.neverHolds(cpath+".when", c.When, stage, most)
			// Conditions are compared as written; an earlier case with
			// the same condition takes every lead this one would.
			key, _ := json.Marshal(c.When)
			if k, ok := first[string(key)]; ok && !emptyCondition(c.When) {
				v.errorf(cpath+".when", "this case can never be taken: case %d has the same condition and is checked first", k+1)
			} else if !ok {
				first[string(key)] = i
			}
		}
	case s.WaitUntil != nil:
		w := s.WaitUntil
		switch {
		case (w.Date == "") == !w.SendWindow:
			v.errorf(path+".wait_until", "wait_until needs either date (like 2026-12-01) or send_window: true")
		case w.Date != "":
			at, err := ParseDate(w.Date, time.UTC)
			if err != nil {
				v.errorf(path+".wait_until.date", "%v", err)
			} else if past(at, w.Date, v.now) {
				v.errorf(path+".wait_until.date", "wait_until date %s is in the past (it is %s now): every lead would pass this step at once; set a later date, or remove the step", w.Date, v.now.UTC().Format("2006-01-02 15:04 UTC"))
			}
		case j.SendWindow == nil:
			v.errorf(path+".wait_until.send_window", "wait_until send_window, but the journey has no send_window")
		}
	case s.Task != nil:
		t := s.Task
		if strings.TrimSpace(t.Title) == "" {
			v.errorf(path+".task", "task needs a title, like \"Call {{.FirstName}} at {{.Company}}\"")
		} else {
			v.tryTemplate(part{path: path + ".task.title", what: "task title", src: t.Title})
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
	if emptyCondition(c) {
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
// matchers counts the matchers a field rule sets; it needs exactly one.
func matchers(f scoring.FitRule) int {
	n := 0
	for _, set := range []bool{f.Equals != "", len(f.OneOf) > 0, len(f.Contains) > 0, f.Range != nil} {
		if set {
			n++
		}
	}
	return n
}

// routing checks the hand-off's routing: every rule reads a field with one
// matcher and names one owner or a team that has members; every address
// is one.
func (v *validator) routing(rt *Routing) {
	const base = "$.handoff.routing"
	if len(rt.Rules) == 0 && rt.Fallback == "" {
		v.errorf(base, "routing needs rules, a fallback owner, or both")
	}
	names := slices.Sorted(maps.Keys(rt.Teams))
	for _, name := range names {
		path := base + ".teams." + name
		if len(rt.Teams[name]) == 0 {
			v.errorf(path, "team %q has no members: list their addresses", name)
		}
		for i, m := range rt.Teams[name] {
			if !isAddress(m) {
				v.errorf(fmt.Sprintf("%s[%d]", path, i), "team member %q is not an e-mail address", m)
			}
		}
	}
	for i, r := range rt.Rules {
		path := fmt.Sprintf("%s.rules[%d]", base, i)
		if r.Field == "" {
			v.errorf(path, "routing rule needs field: the profile field it reads, like country or employees")
		}
		if matchers(r.matcher()) != 1 {
			v.errorf(path, "routing rule needs exactly one of equals, one_of, contains or range")
		}
		switch {
		case (r.Owner == "") == (r.Team == ""):
			v.errorf(path, "routing rule needs owner (an address) or team (a team's name): one of them")
		case r.Owner != "" && !isAddress(r.Owner):
			v.errorf(path+".owner", "owner %q is not an e-mail address", r.Owner)
		case r.Team != "" && len(rt.Teams[r.Team]) == 0 && !slices.Contains(names, r.Team):
			v.errorf(path+".team", "team %q is not one of routing.teams (%s)", r.Team, strings.Join(names, ", "))
		}
	}
	if rt.Fallback != "" && !isAddress(rt.Fallback) {
		v.errorf(base+".fallback", "fallback %q is not an e-mail address", rt.Fallback)
	}
}

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
		if matchers(f) != 1 {
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
			ranges[f.Field] = append(ranges[f.Field], span{i, lo, hi})
		}
	}
	// Overlaps are found by a sweep in order of min, not by comparing
	// every pair: a file can hold thousands of ranges. Each overlap is
	// reported on the later rule of the two, and each rule once.
	reported := map[int]bool{}
	for _, field := range slices.Sorted(maps.Keys(ranges)) {
		spans := ranges[field]
		sort.SliceStable(spans, func(a, b int) bool { return spans[a].min < spans[b].min })
		widest := spans[0]
		for _, s := range spans[1:] {
			if s.min < widest.max {
				later, earlier := s, widest
				if later.i < earlier.i {
					later, earlier = earlier, later
				}
				if !reported[later.i] {
					reported[later.i] = true
					v.errorf(fmt.Sprintf("$.scoring.fit[%d].range", later.i), "range overlaps the %s range of fit rule %d: a lead would score both", field, earlier.i+1)
				}
			}
			if s.max > widest.max {
				widest = s
			}
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

// score is the most points a lead can reach. It is bounded only when
// nothing can add points again and again: no event or combo gives points
// (events repeat) and no adjust_score step adds any (steps can loop).
type score struct {
	bounded bool
	max     int
	// fit is the most fit points: each field's positive rules in full,
	// since rules on one field can all match (contains).
	fit int
}

func maxScore(j *Journey) score {
	m := j.Scoring
	s := score{bounded: true}
	for _, r := range m.Events {
		if r.Points > 0 || slices.ContainsFunc(r.Properties, func(p scoring.PropertyRule) bool { return p.Points > 0 }) {
			s.bounded = false
		}
	}
	for _, c := range m.Combos {
		if c.Points > 0 {
			s.bounded = false
		}
	}
	for _, st := range j.Stages {
		for _, step := range st.Steps {
			if step.AdjustScore != nil && *step.AdjustScore > 0 {
				s.bounded = false
			}
		}
	}
	best := map[string]int{}
	for _, f := range m.Fit {
		if f.Points > 0 {
			best[f.Field] = min(best[f.Field]+f.Points, math.MaxInt32)
		}
	}
	for _, p := range best {
		s.fit = min(s.fit+p, math.MaxInt32)
	}
	s.max = s.fit
	return s
}

// reachable checks thresholds against what the model can give at most:
// a threshold no lead can reach is a journey that never hands off.
func (v *validator) reachable(j *Journey) {
	m := j.Scoring
	most := maxScore(j)
	behaviour := false
	for _, r := range m.Events {
		if r.Points > 0 || slices.ContainsFunc(r.Properties, func(p scoring.PropertyRule) bool { return p.Points > 0 }) {
			behaviour = true
		}
	}
	h := j.Handoff
	if h.MinScore > 0 && most.bounded && most.max < h.MinScore {
		v.errorf("$.handoff.min_score", "no lead can reach %d: the model gives at most %d fit points and no behaviour points", h.MinScore, most.max)
	}
	if h.FitAtLeast != nil && *h.FitAtLeast > most.fit {
		v.errorf("$.handoff.fit_at_least", "no lead can reach fit %d: the fit rules give at most %d", *h.FitAtLeast, most.fit)
	}
	if h.BehaviourAtLeast != nil && *h.BehaviourAtLeast > 0 && !behaviour {
		v.errorf("$.handoff.behaviour_at_least", "no lead can reach behaviour %d: no event gives points", *h.BehaviourAtLeast)
	}
	if g := m.Grades; g != nil {
		for i, gr := range g.Fit {
			if gr.AtLeast > most.fit {
				v.errorf(fmt.Sprintf("$.scoring.grades.fit[%d].at_least", i), "no lead can reach fit grade %s (%d): the fit rules give at most %d", gr.Name, gr.AtLeast, most.fit)
			}
		}
	}
}

// neverHolds reports a branch condition no lead can meet, which is a
// branch that is not one.
func (v *validator) neverHolds(path string, c Condition, stage string, most score) {
	switch {
	case c.ScoreAtLeast != nil && c.ScoreBelow != nil && *c.ScoreAtLeast >= *c.ScoreBelow:
		v.errorf(path, "this case can never hold: no score is at least %d and below %d; did you mean score_at_least %d and score_below %d?", *c.ScoreAtLeast, *c.ScoreBelow, *c.ScoreBelow, *c.ScoreAtLeast)
	case c.ScoreAtLeast != nil && most.bounded && *c.ScoreAtLeast > most.max:
		v.errorf(path+".score_at_least", "this case can never hold: no lead can reach %d, since the model gives at most %d fit points and nothing adds points (no event, combo or adjust_score step)", *c.ScoreAtLeast, most.max)
	}
	if c.Stage != "" && c.Stage != stage && v.stageKnown(c.Stage) && !v.setsStage[stage][c.Stage] {
		v.errorf(path+".stage", "this case can never hold: a lead at this step is in the %s stage, never in %s (entering a step puts the lead in its stage, and no set_stage in %s says %s)", stage, c.Stage, stage, c.Stage)
	}
}

func (v *validator) stageKnown(id string) bool { return v.stages[id] }

func emptyCondition(c Condition) bool {
	return c.ScoreAtLeast == nil && c.ScoreBelow == nil && len(c.Engaged) == 0 && c.Stage == "" && c.Field == nil
}

// past reports whether a wait_until date is behind now for every lead. A
// date alone is midnight in the lead's zone, which has passed everywhere
// by noon UTC that day (UTC-12 is the last zone to reach it).
func past(at time.Time, written string, now time.Time) bool {
	if now.IsZero() {
		return false
	}
	if len(written) == len("2006-01-02") {
		at = at.Add(12 * time.Hour)
	}
	return !now.Before(at)
}

// content trial-renders a content item's (or a variant's) templates: a
// template that does not parse, names a field leads do not have, or fails
// on a lead's data fails now, at its line, rather than at a send; and a
// body without the unsubscribe link is not sent at all.
func (v *validator) content(path, id, subject, text, html string) {
	what := func(part string) string { return fmt.Sprintf("content %q %s", id, part) }
	v.tryTemplate(part{path: path + ".subject", what: what("subject"), src: subject})
	v.tryTemplate(part{path: path + ".text", what: what("text"), src: text, body: true})
	v.tryTemplate(part{path: path + ".html", what: what("html"), src: html, html: true, body: true})
}

func stageIDs(j *Journey) []string {
	ids := make([]string, len(j.Stages))
	for i, s := range j.Stages {
		ids[i] = s.ID
	}
	return ids
}
