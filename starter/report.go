package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nurture-dev/nurture/simulate"
	"github.com/nurture-dev/nurture/span"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Report formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

func runReport(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "report", "", `Reports from PostgreSQL, per journey version: the funnel (stages reached and
where leads entered, exits by stage and reason, MQL, hand-offs, sales'
verdicts, conversion between steps, median days to MQL and to hand-off), the
touchpoints (per content item and task step: sent, opened, clicked, cost,
hand-offs assisted) and the cost per lead, per hand-off and per accepted lead.`)
	journey := fs.String("journey", "", "the journey (default: every published one)")
	version := fs.Int("version", 0, "one version (default: each version apart)")
	since := fs.String("since", "", "only enrolments that entered from this date (2026-11-01) or time on")
	format := fs.String("format", formatTable, "table, json or csv")
	assist := fs.String("assist-window", "30d", "a touchpoint assisted a hand-off when the lead got it this long before at most")
	if _, err := positional(fs, args, 0, ""); err != nil {
		return err
	}
	if !slices.Contains([]string{formatTable, formatJSON, formatCSV}, *format) {
		return misused(fs, fmt.Errorf("-format %q: use table, json or csv", *format))
	}
	f := store.ReportFilter{JourneyID: *journey, Version: *version}
	if *since != "" {
		t, err := simulate.ParseStart(*since)
		if err != nil {
			return fmt.Errorf("-since: %w", err)
		}
		f.Since = t
	}
	window, err := span.Parse(*assist)
	if err != nil {
		return fmt.Errorf("-assist-window: %w", err)
	}
	f.AssistWindow = window
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	ids := []string{*journey}
	if *journey == "" {
		list, err := store.ListJourneys(ctx, conn.db)
		if err != nil {
			return err
		}
		ids = nil
		for _, v := range list {
			if !slices.Contains(ids, v.JourneyID) {
				ids = append(ids, v.JourneyID)
			}
		}
	}
	var all []store.Report
	for _, id := range ids {
		f.JourneyID = id
		rs, err := store.Reports(ctx, conn.db, f)
		if err != nil {
			return err
		}
		all = append(all, rs...)
	}
	switch *format {
	case formatJSON:
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reportsJSON(all))
	case formatCSV:
		return writeReportCSV(env.stdout, all)
	}
	if len(all) == 0 {
		fmt.Fprintln(env.stdout, "no enrolments to report on (a journey counts from its leads' progress records)")
		return nil
	}
	for i, r := range all {
		if i > 0 {
			fmt.Fprintln(env.stdout)
		}
		writeReport(env.stdout, r)
	}
	return nil
}

func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func perUnit(cost float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", cost/float64(n))
}

func days(d *float64) string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f days", *d)
}

func writeReport(w io.Writer, r store.Report) {
	fmt.Fprintf(w, "%s version %d: %d leads entered\n\nfunnel\n", r.JourneyID, r.Version, r.Leads)
	const row = "  %-26s %7s %11s %12s %13s\n"
	fmt.Fprintf(w, row, "", "leads", "of entered", "conversion", "entered here")
	for i, s := range r.Stages {
		conv := "-"
		if i > 0 {
			conv = pct(s.FromBefore, r.Stages[i-1].Reached)
		}
		fmt.Fprintf(w, row, "reached "+s.Stage, strconv.Itoa(s.Reached), pct(s.Reached, r.Leads), conv, strconv.Itoa(s.EnteredHere))
	}
	fmt.Fprintf(w, row, "MQL", strconv.Itoa(r.MQL), pct(r.MQL, r.Leads), pct(r.MQL, r.Leads), "")
	fmt.Fprintf(w, row, "handed off", strconv.Itoa(r.Handoffs), pct(r.Handoffs, r.Leads), pct(r.Handoffs, r.MQL), "")
	for _, verdict := range workflows.Verdicts() {
		v := string(verdict)
		fmt.Fprintf(w, row, "sales: "+v, strconv.Itoa(r.Verdicts[v]), pct(r.Verdicts[v], r.Leads), pct(r.Verdicts[v], r.Handoffs), "")
	}
	fmt.Fprintf(w, row, "waiting for sales", strconv.Itoa(r.Waiting), "", "", "")
	for _, g := range slices.Sorted(maps.Keys(r.Goals)) {
		fmt.Fprintf(w, row, "goal: "+g, strconv.Itoa(r.Goals[g]), pct(r.Goals[g], r.Leads), "", "")
	}
	fmt.Fprintln(w, "  (conversion: of the stage above for a stage, of those entered for MQL, of MQLs for hand-offs, of hand-offs for verdicts)")
	fmt.Fprintf(w, "\nmedian time to MQL %s, to hand-off %s\n\nexits (stage, reason)\n", days(r.DaysToMQL), days(r.DaysToHandoff))
	for _, e := range r.Exits {
		stage := e.Stage
		if stage == "" {
			stage = "(before a stage)"
		}
		fmt.Fprintf(w, "  %-18s %-24s %7d %7s\n", stage, e.Reason, e.Leads, pct(e.Leads, r.Leads))
	}
	if len(r.Exits) == 0 {
		fmt.Fprintln(w, "  (none yet)")
	}
	fmt.Fprintln(w, "\ntouchpoints")
	const tprow = "  %-26s %7s %7s %8s %9s %9s  %s\n"
	fmt.Fprintf(w, tprow, "", "sent", "opened", "clicked", "cost", "assisted", "outcomes")
	for _, tp := range r.Touchpoints {
		name := tp.ID
		if tp.Kind == store.TouchpointTask {
			name = "task " + tp.ID
		}
		fmt.Fprintf(w, tprow, name, strconv.Itoa(tp.Sent), pct(tp.Opened, tp.Sent), pct(tp.Clicked, tp.Sent), fmt.Sprintf("%.2f", tp.Cost), strconv.Itoa(tp.Assisted), outcomes(tp.Outcomes))
	}
	accepted := r.Verdicts[string(workflows.VerdictAccepted)]
	fmt.Fprintf(w, "\ncost %.2f: per lead %s, per hand-off %s, per accepted lead %s\n", r.Cost, perUnit(r.Cost, r.Leads), perUnit(r.Cost, r.Handoffs), perUnit(r.Cost, accepted))
}

func outcomes(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// reportJSON is a report as JSON, with the costs per unit worked out.
type reportJSON struct {
	store.Report
	CostPerLead     *float64 `json:"cost_per_lead"`
	CostPerHandoff  *float64 `json:"cost_per_handoff"`
	CostPerAccepted *float64 `json:"cost_per_accepted_lead"`
}

func reportsJSON(rs []store.Report) []reportJSON {
	out := make([]reportJSON, 0, len(rs))
	for _, r := range rs {
		per := func(n int) *float64 {
			if n == 0 {
				return nil
			}
			v := r.Cost / float64(n)
			return &v
		}
		out = append(out, reportJSON{Report: r, CostPerLead: per(r.Leads), CostPerHandoff: per(r.Handoffs), CostPerAccepted: per(r.Verdicts[string(workflows.VerdictAccepted)])})
	}
	return out
}

// writeReportCSV writes one row per number: journey, version, section,
// name, measure, value; a spreadsheet pivots it as it likes.
func writeReportCSV(w io.Writer, rs []store.Report) error {
	c := csv.NewWriter(w)
	row := func(r store.Report, section, name, measure string, v float64) {
		_ = c.Write([]string{r.JourneyID, strconv.Itoa(r.Version), section, name, measure, strconv.FormatFloat(v, 'f', -1, 64)})
	}
	_ = c.Write([]string{"journey", "version", "section", "name", "measure", "value"})
	for _, r := range rs {
		row(r, "funnel", "entered", "leads", float64(r.Leads))
		for _, s := range r.Stages {
			row(r, "funnel", "reached "+s.Stage, "leads", float64(s.Reached))
			row(r, "funnel", "entered at "+s.Stage, "leads", float64(s.EnteredHere))
			row(r, "funnel", "reached "+s.Stage+" from the stage before", "leads", float64(s.FromBefore))
		}
		row(r, "funnel", "mql", "leads", float64(r.MQL))
		row(r, "funnel", "handed off", "leads", float64(r.Handoffs))
		for v, n := range r.Verdicts {
			row(r, "funnel", "sales "+v, "leads", float64(n))
		}
		for _, e := range r.Exits {
			row(r, "exit", e.Stage+": "+e.Reason, "leads", float64(e.Leads))
		}
		if r.DaysToMQL != nil {
			row(r, "time", "to mql", "median days", *r.DaysToMQL)
		}
		if r.DaysToHandoff != nil {
			row(r, "time", "to hand-off", "median days", *r.DaysToHandoff)
		}
		for _, tp := range r.Touchpoints {
			row(r, tp.Kind, tp.ID, "sent", float64(tp.Sent))
			row(r, tp.Kind, tp.ID, "opened", float64(tp.Opened))
			row(r, tp.Kind, tp.ID, "clicked", float64(tp.Clicked))
			row(r, tp.Kind, tp.ID, "cost", tp.Cost)
			row(r, tp.Kind, tp.ID, "assisted hand-offs", float64(tp.Assisted))
			for o, n := range tp.Outcomes {
				row(r, tp.Kind, tp.ID, "outcome "+o, float64(n))
			}
		}
		row(r, "cost", "total", "cost", r.Cost)
	}
	c.Flush()
	return c.Error()
}
