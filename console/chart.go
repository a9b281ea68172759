package console

import (
	"fmt"
	"slices"

	"github.com/nurture-dev/nurture/store"
)

// The funnel chart's geometry, in SVG user units.
const (
	chartWidth = 640
	barHeight  = 44
	barGap     = 10
	labelWidth = 150
)

// funnelChart is a report laid out for the page: a bar a stage, centred
// and as wide as the share of leads that reached it, then the
// milestones (MQL, hand-off, accepted).
type funnelChart struct {
	Report store.Report
	Bars   []funnelBar
	Height int
	// Exits in the stages' order, for the table under the chart.
	Exits    []exitRow
	Accepted int
	// Costs per lead, hand-off and accepted lead.
	Cost float64
}

type exitRow struct {
	store.ExitCount
	// OfStage is the share of the stage's leads that left for the reason.
	OfStage string
}

type funnelBar struct {
	Label string
	N     int
	// Share is N of the leads, as a percentage; From is the conversion
	// from the bar above, as a percentage ("" for the first).
	Share string
	From  string
	X, Y  int
	W     int
	// Milestone bars (MQL, hand-off, accepted) are drawn apart from the
	// stages.
	Milestone bool
}

func chart(r store.Report) funnelChart {
	fc := funnelChart{Report: r, Accepted: r.Verdicts["accepted"], Cost: r.Cost}
	reached, order := map[string]int{}, map[string]int{}
	for i, s := range r.Stages {
		reached[s.Stage], order[s.Stage] = s.Reached, i
	}
	rank := func(stage string) int {
		if i, ok := order[stage]; ok {
			return i
		}
		return len(order)
	}
	exits := slices.Clone(r.Exits)
	// In the stages' order; within a stage, as the report has them (most
	// leads first).
	slices.SortStableFunc(exits, func(a, b store.ExitCount) int { return rank(a.Stage) - rank(b.Stage) })
	for _, e := range exits {
		fc.Exits = append(fc.Exits, exitRow{ExitCount: e, OfStage: percent(e.Leads, reached[e.Stage])})
	}
	span := chartWidth - labelWidth
	add := func(label string, n int, from string, milestone bool) {
		w := 0
		if r.Leads > 0 {
			w = span * n / r.Leads
		}
		if n > 0 && w < 2 {
			w = 2
		}
		fc.Bars = append(fc.Bars, funnelBar{Label: label, N: n, Share: percent(n, r.Leads), From: from,
			X: labelWidth + (span-w)/2, Y: len(fc.Bars) * (barHeight + barGap), W: w, Milestone: milestone})
	}
	add("enrolled", r.Leads, "", false)
	for i, s := range r.Stages {
		from := ""
		if i > 0 {
			from = percent(s.FromBefore, r.Stages[i-1].Reached)
		}
		add(s.Stage, s.Reached, from, false)
	}
	add("MQL", r.MQL, "", true)
	add("handed off", r.Handoffs, percent(r.Handoffs, r.MQL), true)
	add("accepted", fc.Accepted, percent(fc.Accepted, r.Handoffs), true)
	fc.Height = len(fc.Bars) * (barHeight + barGap)
	return fc
}

func percent(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}
