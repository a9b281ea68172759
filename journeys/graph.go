package journeys

import (
	"cmp"
	"maps"
	"slices"
	"sort"
)

// Next lists the steps a step can lead to, in a stable order: where the lead
// may go after it. An exit leads nowhere; "" (the end of the journey) is
// left out.
func (j *Journey) Next(s Step) []string { return nextOf(s, j.After(s.ID)) }

// nextOf is Next for a step whose following step is after.
func nextOf(s Step, after string) []string {
	var out []string
	add := func(id string) {
		if id != "" {
			out = append(out, id)
		}
	}
	switch s.Kind() {
	case KindExit:
		return nil
	case KindGoto:
		add(s.Goto)
		return out
	case KindBranch:
		for _, c := range s.Branch.Cases {
			add(c.Goto)
		}
		add(s.Branch.Otherwise)
		return out
	case KindWaitFor:
		w := s.WaitFor
		for _, t := range slices.Sorted(maps.Keys(w.On)) {
			add(w.On[t])
		}
		add(cmp.Or(w.OnEvent, after))
		add(cmp.Or(w.OnTimeout, after))
		return out
	case KindTask:
		for _, o := range slices.Sorted(maps.Keys(s.Task.Outcomes)) {
			add(s.Task.Outcomes[o])
		}
		add(cmp.Or(s.Task.OnTimeout, after))
		return out
	}
	add(after)
	return out
}

// stepGraph is the journey's steps with an index by ID, so that walking
// the graph takes time in proportion to its size (Journey.Step and After
// search the steps, which is fine for one step and quadratic for all).
type stepGraph struct {
	steps []Located
	index map[string]int
}

func (j *Journey) graph() *stepGraph {
	g := &stepGraph{steps: j.Steps(), index: map[string]int{}}
	for i, l := range g.steps {
		if _, dup := g.index[l.Step.ID]; !dup {
			g.index[l.Step.ID] = i
		}
	}
	return g
}

// next is Next for the step at i.
func (g *stepGraph) next(i int) []string {
	s := g.steps[i].Step
	after := s.Next
	if after == "" && i+1 < len(g.steps) {
		after = g.steps[i+1].Step.ID
	}
	return nextOf(s, after)
}

// waits reports whether a step makes the lead wait, which is what keeps a
// loop from spinning.
func (s Step) waits() bool {
	switch s.Kind() {
	// A step without a kind (its key misspelled, reported as such) is taken
	// to wait, so it cannot raise a false loop on top of the typo.
	case KindWait, KindWaitUntil, KindWaitFor, KindTask, "":
		return true
	}
	return false
}

// unreachable lists the steps no lead can get to. A lead can be enrolled at
// the first step of any stage, so those are the ways in.
func (g *stepGraph) unreachable() []string {
	seen := map[string]bool{}
	var stack []string
	for i, l := range g.steps {
		if i == 0 || g.steps[i-1].Stage != l.Stage {
			stack = append(stack, l.Step.ID)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if i, ok := g.index[id]; ok {
			stack = append(stack, g.next(i)...)
		}
	}
	var out []string
	for _, l := range g.steps {
		if !seen[l.Step.ID] {
			out = append(out, l.Step.ID)
		}
	}
	return out
}

// loopsWithoutWait finds cycles made only of steps that do not wait: a lead
// in one would spin forever (and be mailed each time round). It returns one
// cycle per strongly connected component, each as the step IDs in file order.
func (g *stepGraph) loopsWithoutWait() [][]string {
	steps, index := g.steps, g.index
	// Tarjan's algorithm over the steps that do not wait.
	n := len(steps)
	idx, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range idx {
		idx[i] = -1
	}
	var stack []int
	var loops [][]string
	counter := 0
	var visit func(v int)
	visit = func(v int) {
		idx[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		selfLoop := false
		for _, next := range g.next(v) {
			w, ok := index[next]
			if !ok || steps[w].Step.waits() {
				continue
			}
			if w == v {
				selfLoop = true
			}
			if idx[w] == -1 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], idx[w])
			}
		}
		if low[v] != idx[v] {
			return
		}
		var comp []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		if len(comp) > 1 || selfLoop {
			sort.Ints(comp)
			ids := make([]string, len(comp))
			for i, c := range comp {
				ids[i] = steps[c].Step.ID
			}
			loops = append(loops, ids)
		}
	}
	for v := range steps {
		if idx[v] == -1 && !steps[v].Step.waits() {
			visit(v)
		}
	}
	sort.Slice(loops, func(a, b int) bool { return index[loops[a][0]] < index[loops[b][0]] })
	return loops
}
