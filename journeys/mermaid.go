package journeys

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/nurture-dev/nurture/lead"
)

// Mermaid writes the journey as a Mermaid flowchart, so a marketer can look
// instead of read: stages are groups, steps are nodes shaped by what they do
// (sends are boxes, waits rounded, decisions diamonds, hand-offs hexagons,
// exits stadiums), branches are labelled with their conditions, and the
// journey-wide rules sit on top. The output is stable for the same journey.
func (j *Journey) Mermaid(w io.Writer) error {
	b := bufio.NewWriter(w)
	ids := nodeIDs(j)
	nodeID := func(step string) string { return ids[step] }
	fmt.Fprintln(b, "flowchart TD")
	fmt.Fprintf(b, "  rules[/\"%s\"/]\n", escape(j.rulesText()))
	ends, sales := false, false
	// Where leads come in: the first stage, and wherever an entry rule
	// puts them.
	fmt.Fprintln(b, `  entry(["enrolled"])`)
	for _, st := range j.Stages {
		fmt.Fprintf(b, "  subgraph %s[\"%s\"]\n", "stage_"+safeID(st.ID), escape(st.ID))
		for _, s := range st.Steps {
			fmt.Fprintf(b, "    %s\n", j.node(s, nodeID(s.ID)))
		}
		fmt.Fprintln(b, "  end")
	}
	if first, ok := j.FirstStep(""); ok {
		fmt.Fprintf(b, "  entry --> %s\n", nodeID(first))
	}
	for _, e := range j.Entry {
		first, ok := j.FirstStep(e.Stage)
		if !ok || e.Stage == "" || first == j.Stages[0].Steps[0].ID {
			continue
		}
		how := "from " + e.Source
		if e.Event != "" {
			how = "on " + string(e.Event)
		}
		fmt.Fprintf(b, "  entry -->|%s| %s\n", edgeLabel(how), nodeID(first))
	}
	for _, l := range j.Steps() {
		for _, e := range j.edges(l.Step) {
			if e.to == toSales {
				sales = true
				fmt.Fprintf(b, "  %s -.-> sales\n", nodeID(l.Step.ID))
				continue
			}
			to := "done"
			if e.to != "" {
				to = nodeID(e.to)
			} else {
				ends = true
			}
			if e.label == "" {
				fmt.Fprintf(b, "  %s --> %s\n", nodeID(l.Step.ID), to)
			} else {
				fmt.Fprintf(b, "  %s -->|%s| %s\n", nodeID(l.Step.ID), edgeLabel(e.label), to)
			}
		}
	}
	if ends {
		fmt.Fprintln(b, `  done(["end of journey: completed"])`)
	}
	if sales {
		recycle := "recycle"
		if rc := j.Recycle; rc != nil {
			recycle = "recycle into " + strings.Trim(cmp.Or(rc.Journey, j.ID)+" "+rc.Stage, " ")
		}
		fmt.Fprintf(b, "  sales[(\"%s\")]\n", escape("sales decides: accepted, rejected or "+recycle))
	}
	fmt.Fprintln(b, "  classDef exit fill:#fde2e1,stroke:#c0392b")
	fmt.Fprintln(b, "  classDef handoff fill:#e0f4e4,stroke:#1e8449")
	return b.Flush()
}

func (j *Journey) rulesText() string {
	parts := []string{fmt.Sprintf("hand-off at score ≥ %d (checked on every event)", j.Handoff.MinScore)}
	if len(j.ExitOn) > 0 {
		types := make([]string, len(j.ExitOn))
		for i, t := range j.ExitOn {
			types[i] = string(t)
		}
		parts = append(parts, "exits on "+strings.Join(types, ", "))
	}
	if rc := j.Recycle; rc != nil {
		parts = append(parts, "recycled leads go to "+strings.Trim(rc.Journey+" "+rc.Stage, " "))
	}
	if w := j.SendWindow; w != nil {
		parts = append(parts, fmt.Sprintf("sends %s %s–%s", strings.Join(w.Days, "/"), w.From, w.To))
	}
	if c := j.FrequencyCap; c != nil {
		parts = append(parts, fmt.Sprintf("at most %d emails per %s", c.Max, c.Per))
	}
	if j.MaxDuration != "" {
		parts = append(parts, "ends after "+string(j.MaxDuration))
	}
	return strings.Join(parts, " · ")
}

// node declares a step with the shape and words of its kind.
func (j *Journey) node(s Step, id string) string {
	label := func(open, text, close string) string { return id + open + `"` + escape(text) + `"` + close }
	switch s.Kind() {
	case KindSend:
		return label("[", "send "+s.Send, "]")
	case KindWait:
		return label("(", "wait "+string(s.Wait), ")")
	case KindWaitUntil:
		if s.WaitUntil.SendWindow {
			return label("(", "wait for the send window", ")")
		}
		return label("(", "wait until "+s.WaitUntil.Date, ")")
	case KindWaitFor:
		return label("{", fmt.Sprintf("wait up to %s for %s", s.WaitFor.Timeout, joinTypes(s.WaitFor.Events)), "}")
	case KindTask:
		return label("[[", fmt.Sprintf("task: %s (up to %s)", s.Task.Title, s.Task.Timeout), "]]")
	case KindBranch:
		return label("{", "branch "+s.ID, "}")
	case KindAdjustScore:
		return label("[", fmt.Sprintf("adjust score %+d", *s.AdjustScore), "]")
	case KindSetStage:
		return label("[", "set stage "+s.SetStage, "]")
	case KindHandoff:
		return label("{{", "hand off to sales", "}}") + ":::handoff"
	case KindGoto:
		return label("[", "go to "+s.Goto, "]")
	case KindExit:
		return label("([", "exit: "+s.Exit, "])") + ":::exit"
	}
	return label("[", s.ID, "]")
}

type edge struct{ to, label string }

// toSales is the edge target of a hand-off.
const toSales = "@sales"

// edges are the ways out of a step, labelled where there is a choice; ""
// as a target is the end of the journey.
func (j *Journey) edges(s Step) []edge {
	after := j.After(s.ID)
	switch s.Kind() {
	case KindExit:
		return nil
	case KindGoto:
		return []edge{{s.Goto, ""}}
	case KindBranch:
		var out []edge
		for _, c := range s.Branch.Cases {
			out = append(out, edge{c.Goto, conditionText(c.When)})
		}
		return append(out, edge{s.Branch.Otherwise, "otherwise"})
	case KindWaitFor:
		w := s.WaitFor
		var out []edge
		for _, t := range slices.Sorted(maps.Keys(w.On)) {
			out = append(out, edge{w.On[t], string(t)})
		}
		// Events without a branch of their own go on; there are none when
		// every awaited event has one.
		if rest := len(w.Events) - len(w.On); rest > 0 {
			other := "event"
			if len(w.On) > 0 {
				other = "other event"
			}
			out = append(out, edge{cmp.Or(w.OnEvent, after), other})
		}
		return append(out, edge{cmp.Or(w.OnTimeout, after), "timeout"})
	case KindTask:
		var out []edge
		for _, o := range slices.Sorted(maps.Keys(s.Task.Outcomes)) {
			out = append(out, edge{s.Task.Outcomes[o], o})
		}
		return append(out, edge{cmp.Or(s.Task.OnTimeout, after), "timeout"})
	case KindHandoff:
		// The lead waits for sales' verdict, which ends the journey or
		// recycles it where the recycle rule says: not down the next edge.
		return []edge{{toSales, ""}}
	}
	return []edge{{after, ""}}
}

func conditionText(c Condition) string {
	var parts []string
	if c.ScoreAtLeast != nil {
		parts = append(parts, fmt.Sprintf("score ≥ %d", *c.ScoreAtLeast))
	}
	if c.ScoreBelow != nil {
		parts = append(parts, fmt.Sprintf("score < %d", *c.ScoreBelow))
	}
	if len(c.Engaged) > 0 {
		parts = append(parts, "did "+strings.ReplaceAll(joinTypes(c.Engaged), ", ", " or "))
	}
	if c.Stage != "" {
		parts = append(parts, "stage "+c.Stage)
	}
	if c.Field != nil {
		parts = append(parts, c.Field.Name+" in "+strings.Join(c.Field.OneOf, ", "))
	}
	return strings.Join(parts, " and ")
}

func joinTypes(ts []lead.EventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// nodeIDs names each step's node: readable, and distinct even where two
// step IDs differ only in - and _ (a-b, a_b).
func nodeIDs(j *Journey) map[string]string {
	ids, used := map[string]string{}, map[string]bool{}
	for _, l := range j.Steps() {
		id := "s_" + safeID(l.Step.ID)
		for n := 2; used[id]; n++ {
			id = fmt.Sprintf("s_%s_%d", safeID(l.Step.ID), n)
		}
		used[id], ids[l.Step.ID] = true, id
	}
	return ids
}

// safeID keeps letters, digits and _ of an ID.
func safeID(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, id)
}

// escape keeps quotes and line breaks from breaking a Mermaid label.
func escape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

// edgeLabel quotes an edge label, so brackets in a condition ("industry in
// SaaS (B2B)") cannot end it early.
func edgeLabel(s string) string {
	return `"` + strings.NewReplacer("|", "/", `"`, "#quot;").Replace(s) + `"`
}
