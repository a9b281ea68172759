package journeys

// StepKind is what a step does. A step has exactly one kind: the one field
// of its kind is set. Adding a kind means a field on Step, a line in
// stepKinds, and a case where the layers differ (validation, graph,
// diagram, the workflow's handler).
type StepKind string

// The step kinds.
const (
	KindSend        StepKind = "send"
	KindWait        StepKind = "wait"
	KindWaitUntil   StepKind = "wait_until"
	KindWaitFor     StepKind = "wait_for"
	KindTask        StepKind = "task"
	KindBranch      StepKind = "branch"
	KindAdjustScore StepKind = "adjust_score"
	KindSetStage    StepKind = "set_stage"
	KindHandoff     StepKind = "handoff"
	KindGoto        StepKind = "goto"
	KindExit        StepKind = "exit"
)

// stepKinds is every kind with the test of whether a step is of it, in the
// order the docs present them.
var stepKinds = []struct {
	kind StepKind
	is   func(Step) bool
}{
	{KindSend, func(s Step) bool { return s.Send != "" }},
	{KindWait, func(s Step) bool { return s.Wait != "" }},
	{KindWaitUntil, func(s Step) bool { return s.WaitUntil != nil }},
	{KindWaitFor, func(s Step) bool { return s.WaitFor != nil }},
	{KindTask, func(s Step) bool { return s.Task != nil }},
	{KindBranch, func(s Step) bool { return s.Branch != nil }},
	{KindAdjustScore, func(s Step) bool { return s.AdjustScore != nil }},
	{KindSetStage, func(s Step) bool { return s.SetStage != "" }},
	{KindHandoff, func(s Step) bool { return s.Handoff != nil }},
	{KindGoto, func(s Step) bool { return s.Goto != "" }},
	{KindExit, func(s Step) bool { return s.Exit != "" }},
}

// StepKinds lists the step kinds, in the order the docs present them.
func StepKinds() []StepKind {
	out := make([]StepKind, len(stepKinds))
	for i, k := range stepKinds {
		out[i] = k.kind
	}
	return out
}

// Kind is the step's kind, for logs, history and diagrams; "" for a step
// with none (validation reports it).
func (s Step) Kind() StepKind {
	for _, k := range stepKinds {
		if k.is(s) {
			return k.kind
		}
	}
	return ""
}

// kinds lists every kind whose field is set; validation wants exactly one.
func (s Step) kinds() []StepKind {
	var out []StepKind
	for _, k := range stepKinds {
		if k.is(s) {
			out = append(out, k.kind)
		}
	}
	return out
}

// kindList says the kinds for a person: "send, wait, ...".
func kindList(ks []StepKind) string {
	out := ""
	for i, k := range ks {
		if i > 0 {
			out += ", "
		}
		out += string(k)
	}
	return out
}
