package journeys

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Fixed node IDs. Step nodes all start with "s_" and stage subgraphs with
// "stage_", so none of these can clash with a journey's own IDs.
const (
	diagramRules = "rules"
	diagramEntry = "entry"
	diagramSales = "sales"
	diagramDone  = "done"
)

// Diagram writes the journey as a Mermaid flowchart (flowchart TD): stages
// as subgraphs, one node per step, labelled edges for branches, and exits shown.
//
// The output depends only on the journey, never on map order, so it can be
// kept as a golden file and diffed when a journey changes. Nothing is
// written when the journey refers to a step it does not have.
func (j *Journey) Diagram(w io.Writer) error {
	d := &diagram{j: j, nodes: map[string]string{}, taken: map[string]bool{}, classes: map[string][]string{}}
	if err := d.build(); err != nil {
		return err
	}
	_, err := w.Write(d.out.Bytes())
	return err
}

type diagram struct {
	j   *Journey
	out bytes.Buffer
	// nodes maps step IDs to node IDs; taken holds every node and subgraph
	// ID handed out, so two step IDs that sanitize alike (a-b, a_b) stay
	// apart.
	nodes map[string]string
	taken map[string]bool
	// names says what each node is, for errors.
	names   map[string]string
	edges   []diagramEdge
	ended   bool // an edge runs off the end of the journey
	classes map[string][]string
}

type diagramEdge struct {
	from, to, label string
	dotted          bool
}

func (d *diagram) build() error {
	j := d.j
	d.names = map[string]string{diagramEntry: "an entry rule", diagramSales: "the recycle rule"}
	for _, l := range j.Steps() {
		id := d.unique("s_" + diagramID(l.Step.ID))
		d.nodes[l.Step.ID] = id
		d.names[id] = fmt.Sprintf("step %q", l.Step.ID)
	}

	d.line(0, "flowchart TD")
	d.line(1, "%s[%s]", diagramRules, diagramQuote(d.rules()))
	d.class("note", diagramRules)
	d.line(1, "%s([%s])", diagramEntry, diagramQuote("enrolled"))
	if err := d.entries(); err != nil {
		return err
	}

	for _, st := range j.Stages {
		d.line(1, "subgraph %s[%s]", d.unique("stage_"+diagramID(st.ID)), diagramQuote(st.ID))
		for _, s := range st.Steps {
			d.line(2, "%s", diagramNode(d.nodes[s.ID], s))
			if err := d.stepEdges(s); err != nil {
				return err
			}
			switch s.Kind() {
			case "exit":
				d.class("exit", d.nodes[s.ID])
			case "handoff":
				d.class("handoff", d.nodes[s.ID])
			}
		}
		d.line(1, "end")
	}

	// A handed-off lead leaves the steps for sales whatever step it was on
	// (a handoff step or the score rule mid-wait), so sales is drawn even
	// when no step hands off.
	d.line(1, "%s([%s])", diagramSales, diagramQuote(d.sales()))
	d.class("handoff", diagramSales)
	if err := d.recycleEdge(); err != nil {
		return err
	}
	if d.ended {
		d.line(1, "%s([%s])", diagramDone, diagramQuote("completed"))
		d.class("exit", diagramDone)
	}

	for _, e := range d.edges {
		arrow := "-->"
		if e.dotted {
			arrow = "-.->"
		}
		if e.label == "" {
			d.line(1, "%s %s %s", e.from, arrow, e.to)
		} else {
			d.line(1, "%s %s|%s| %s", e.from, arrow, diagramEdgeLabel(e.label), e.to)
		}
	}

	d.line(1, "classDef note fill:#fffde7,stroke:#f9a825,stroke-dasharray:4 3")
	d.line(1, "classDef handoff fill:#e8f5e9,stroke:#2e7d32")
	d.line(1, "classDef exit fill:#fdecea,stroke:#c0392b")
	for _, c := range []string{"note", "handoff", "exit"} {
		if ids := d.classes[c]; len(ids) > 0 {
			d.line(1, "class %s %s", strings.Join(ids, ","), c)
		}
	}
	return nil
}

// rules is the note for what can happen at any step, which no edge can
// show: the score hand-off, the exit events and the time limit.
func (d *diagram) rules() string {
	j := d.j
	parts := []string{fmt.Sprintf("hand-off at score ≥ %d", j.Handoff.MinScore)}
	if len(j.ExitOn) > 0 {
		parts = append(parts, "exits on "+diagramJoin(j.ExitOn, ", "))
	}
	if j.MaxDuration != "" {
		parts = append(parts, "ends after "+string(j.MaxDuration))
	}
	return strings.Join(parts, " · ")
}

// entries draws where leads start: the first step, and the stages entry
// rules send some leads straight to. Rules for the first stage add nothing
// to the default edge, so they are left out.
func (d *diagram) entries() error {
	first, ok := d.j.FirstStep("")
	if !ok {
		return nil
	}
	if err := d.edge(diagramEntry, first, ""); err != nil {
		return err
	}
	for _, r := range d.j.Entry {
		to, ok := d.j.FirstStep(r.Stage)
		if !ok {
			return fmt.Errorf("diagram: entry rule names stage %q, which the journey does not have", r.Stage)
		}
		if to == first {
			continue
		}
		label := "from " + r.Source
		if r.Source == "" {
			label = "on " + string(r.Event)
		}
		if err := d.edge(diagramEntry, to, label); err != nil {
			return err
		}
	}
	return nil
}

func (d *diagram) sales() string {
	rc := d.j.Recycle
	if rc == nil || rc.Journey == "" || rc.Journey == d.j.ID {
		return "with sales: accepted, rejected or recycled"
	}
	where := rc.Journey
	if rc.Stage != "" {
		where += " (" + rc.Stage + ")"
	}
	return "with sales: accepted, rejected or recycled into " + where
}

// recycleEdge shows where a recycled lead resumes when that is in this
// journey; another journey is named on the sales node instead.
func (d *diagram) recycleEdge() error {
	rc := d.j.Recycle
	stage := ""
	if rc != nil {
		if rc.Journey != "" && rc.Journey != d.j.ID {
			return nil
		}
		stage = rc.Stage
	}
	to, ok := d.j.FirstStep(stage)
	if !ok {
		return fmt.Errorf("diagram: recycle rule names stage %q, which the journey does not have", stage)
	}
	d.edges = append(d.edges, diagramEdge{from: diagramSales, to: d.nodes[to], label: "recycled", dotted: true})
	return nil
}

// stepEdges adds the edges out of a step, mirroring how the workflow picks
// the next step (workflows/steps.go), including the fallbacks to the
// following step that the journey file leaves implicit.
func (d *diagram) stepEdges(s Step) error {
	from := d.nodes[s.ID]
	after := d.j.After(s.ID)
	switch s.Kind() {
	case "exit":
		return nil
	case "goto":
		return d.edge(from, s.Goto, "")
	case "handoff":
		// The workflow records the following step but never runs it: the
		// lead waits for sales, whose verdict ends the journey or recycles
		// it to the recycle rule's stage.
		d.add(diagramEdge{from: from, to: diagramSales})
		return nil
	case "branch":
		for _, c := range s.Branch.Cases {
			if err := d.edge(from, c.Goto, diagramCondition(c.When)); err != nil {
				return err
			}
		}
		return d.edge(from, s.Branch.Otherwise, "otherwise")
	case "wait_for":
		w := s.WaitFor
		for _, t := range slices.Sorted(maps.Keys(w.On)) {
			if err := d.edge(from, w.On[t], string(t)); err != nil {
				return err
			}
		}
		// Events with their own branch are already drawn; the rest share
		// one edge, named "event" when no event has a branch of its own.
		var rest []string
		for _, t := range w.Events {
			if _, ok := w.On[t]; !ok {
				rest = append(rest, string(t))
			}
		}
		if len(w.On) == 0 {
			rest = []string{"event"}
		}
		if len(rest) > 0 {
			if err := d.edge(from, cmp.Or(w.OnEvent, after), strings.Join(rest, ", ")); err != nil {
				return err
			}
		}
		return d.edge(from, cmp.Or(w.OnTimeout, after), "timeout")
	case "task":
		t := s.Task
		for _, o := range slices.Sorted(maps.Keys(t.Outcomes)) {
			if err := d.edge(from, cmp.Or(t.Outcomes[o], after), o); err != nil {
				return err
			}
		}
		return d.edge(from, cmp.Or(t.OnTimeout, after), "timeout")
	}
	return d.edge(from, after, "")
}

// edge adds an edge to a step; "" is the end of the journey.
func (d *diagram) edge(from, stepID, label string) error {
	to, ok := d.nodes[stepID]
	switch {
	case stepID == "":
		to, d.ended = diagramDone, true
	case !ok:
		return fmt.Errorf("diagram: %s leads to step %q, which the journey does not have", d.names[from], stepID)
	}
	d.add(diagramEdge{from: from, to: to, label: label})
	return nil
}

// add merges labelled edges between the same two nodes into one ("not_now
// or wrong_person"): parallel arrows between two boxes are hard to tell
// apart, and their labels overlap.
func (d *diagram) add(e diagramEdge) {
	if e.label != "" {
		for i, o := range d.edges {
			if o.from == e.from && o.to == e.to && o.label != "" && o.dotted == e.dotted {
				d.edges[i].label += " or " + e.label
				return
			}
		}
	}
	d.edges = append(d.edges, e)
}

func (d *diagram) class(name, id string) {
	d.classes[name] = append(d.classes[name], id)
}

func (d *diagram) unique(id string) string {
	out := id
	for n := 2; d.taken[out]; n++ {
		out = fmt.Sprintf("%s_%d", id, n)
	}
	d.taken[out] = true
	return out
}

func (d *diagram) line(indent int, format string, args ...any) {
	d.out.WriteString(strings.Repeat("    ", indent))
	fmt.Fprintf(&d.out, format, args...)
	d.out.WriteByte('\n')
}

// diagramNode declares a step's node, its shape saying what kind of step it is at
// a glance.
func diagramNode(id string, s Step) string {
	switch s.Kind() {
	case "send":
		return id + "[" + diagramQuote("send: "+s.Send) + "]"
	case "wait":
		return id + "(" + diagramQuote("wait "+string(s.Wait)) + ")"
	case "wait_until":
		what := s.WaitUntil.Date
		if s.WaitUntil.SendWindow {
			what = "send window"
		}
		return id + "(" + diagramQuote("wait until "+what) + ")"
	case "wait_for":
		w := s.WaitFor
		return id + "{" + diagramQuote(fmt.Sprintf("wait for %s (up to %s)", diagramJoin(w.Events, ", "), w.Timeout)) + "}"
	case "task":
		t := s.Task
		return id + "[[" + diagramQuote(fmt.Sprintf("task: %s (up to %s)", diagramPlaceholders(t.Title), t.Timeout)) + "]]"
	case "branch":
		return id + "{" + diagramQuote("branch") + "}"
	case "adjust_score":
		return id + "[" + diagramQuote(fmt.Sprintf("adjust score %+d", *s.AdjustScore)) + "]"
	case "set_stage":
		return id + "[" + diagramQuote("set stage "+s.SetStage) + "]"
	case "handoff":
		return id + "{{" + diagramQuote("hand off to sales") + "}}"
	case "goto":
		return id + ">" + diagramQuote("go to "+s.Goto) + "]"
	case "exit":
		return id + "([" + diagramQuote("exit: "+s.Exit) + "])"
	}
	return id + "[" + diagramQuote("? "+s.ID) + "]"
}

// diagramCondition is a branch case as an edge label: every part that is set
// must hold, hence "and".
func diagramCondition(c Condition) string {
	var parts []string
	if c.ScoreAtLeast != nil {
		parts = append(parts, fmt.Sprintf("score ≥ %d", *c.ScoreAtLeast))
	}
	if c.ScoreBelow != nil {
		parts = append(parts, fmt.Sprintf("score < %d", *c.ScoreBelow))
	}
	if len(c.Engaged) > 0 {
		parts = append(parts, "engaged "+diagramJoin(c.Engaged, "/"))
	}
	if c.Stage != "" {
		parts = append(parts, "stage "+c.Stage)
	}
	if c.Field != nil {
		parts = append(parts, c.Field.Name+" in "+strings.Join(c.Field.OneOf, ", "))
	}
	if len(parts) == 0 {
		return "always"
	}
	return strings.Join(parts, " and ")
}

func diagramJoin[T ~string](ts []T, sep string) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, sep)
}

var (
	diagramNotID        = regexp.MustCompile(`[^A-Za-z0-9_]`)
	diagramAction       = regexp.MustCompile(`\{\{.*?\}\}`)
	diagramIndexedField = regexp.MustCompile(`index\s+\.Fields\s+"([^"]*)"`)
	diagramFieldName    = regexp.MustCompile(`\.([A-Za-z_][A-Za-z0-9_]*)`)
)

func diagramID(s string) string { return diagramNotID.ReplaceAllString(s, "_") }

// diagramPlaceholders shortens a task title's template actions to the field they
// show, {FirstName}: a marketer reads the title, not the fallbacks around
// it.
func diagramPlaceholders(title string) string {
	return diagramAction.ReplaceAllStringFunc(title, func(a string) string {
		if m := diagramIndexedField.FindStringSubmatch(a); m != nil {
			return "{" + m[1] + "}"
		}
		if m := diagramFieldName.FindStringSubmatch(a); m != nil {
			return "{" + m[1] + "}"
		}
		return "{…}"
	})
}

// diagramEscaper turns what would end or reinterpret a quoted Mermaid label
// into Mermaid entities: " ends it, # starts an entity of its own, and a
// label in backticks is read as Markdown.
var diagramEscaper = strings.NewReplacer(`#`, `#35;`, `"`, `#quot;`, "`", `#96;`, "\r\n", " ", "\n", " ", "\r", " ")

func diagramQuote(s string) string { return `"` + diagramEscaper.Replace(s) + `"` }

// diagramEdgeLabel writes an edge label bare when it can be, since most are
// (timeout, email_click), and quoted otherwise: brackets and | end a bare
// label.
func diagramEdgeLabel(s string) string {
	if strings.ContainsAny(s, "()[]{}|\"#`\r\n") {
		return diagramQuote(s)
	}
	return s
}
