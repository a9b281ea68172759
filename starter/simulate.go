package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/simulate"
	"github.com/nurture-dev/nurture/span"
	"github.com/nurture-dev/nurture/zones"
)

// defaultSimStart is when journey time starts unless a case or -start says
// otherwise: a Monday, 09:00 in the lead's time zone. Pinned, not today, so
// a simulation kept in CI gives the same timeline whatever day it runs.
var defaultSimStart = [3]int{2026, 1, 5}

// listValues collects a repeated flag.
type listValues []string

func (l *listValues) String() string     { return strings.Join(*l, "; ") }
func (l *listValues) Set(s string) error { *l = append(*l, s); return nil }

func runSimulate(_ context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("starter simulate", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var flagged lead.Profile
	caseFile := fs.String("case", "", "a YAML file with the lead, and optionally its script and expectations (see the README)")
	scriptFile := fs.String("script", "", "a file of script lines, one action a line")
	var at, expect listValues
	fs.Var(&at, "at", "a script line (repeatable): \"3d whitepaper_download\", \"10d 14:00 pricing_page_view page=/pricing\", \"12d verdict accepted reason\", \"20d task reached note\"")
	fs.Var(&expect, "expect", "an expectation (repeatable): handoff-by=30d, no-handoff, mql-by=10d, exit=no_engagement, lifecycle=sql, stage=evaluation, emails=4, sent=case-study, not-sent=farewell, ends-by=60d")
	fs.StringVar(&flagged.Email, "email", "", "the lead's address (lead@example.test when no case names one)")
	profileFlags(fs, &flagged)
	persona := fs.String("persona", "", "persona, which picks content variants")
	fs.StringVar(&flagged.Source, "source", "", "where the lead came from")
	cohort := fs.Int("cohort", 0, "forecast: simulate this many synthetic leads drawn from -model, and print the funnel and costs")
	modelFile := fs.String("model", "", "forecast: the engagement model, a YAML file (see journeys/models)")
	seed := fs.Uint64("seed", 1, "forecast: the random seed; the same seed gives the same forecast")
	stage := fs.String("stage", "", "stage to start at")
	start := fs.String("start", "", "when journey time starts: a date or RFC 3339 time (default: Monday 5 January 2026, 09:00 in the lead's zone)")
	horizon := fs.String("horizon", "104w", "stop a journey still running after this long")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, `usage: starter simulate [flags] JOURNEY.yaml

Runs the journey for one made-up lead with the production workflow code on
Temporal's time-skipping test environment (no server, no database, no mail):
content is rendered with the lead's data, suppression is checked at send
time, hand-offs and tasks are numbered. Prints the timeline (journey day,
the lead's local time, step, emails with their subjects, every score change
and what caused it, stage and lifecycle, hand-off, exit) and the outcome.
Journeys the file recycles into are read from its folder. Exits 1 when an
expectation is not met.

With -cohort N -model FILE it forecasts instead: N synthetic leads, drawn
from the model's profiles, engage with the model's chances; prints the
funnel (stages reached, MQL, hand-offs, verdicts), how leads ended (reason
and stage), median days to MQL and to hand-off, and the cost per lead, per
hand-off and per accepted lead. The same -seed gives the same forecast.

flags:
`)
		fs.PrintDefaults()
	}
	rest, err := positional(fs, args, 1, "name the journey file to simulate")
	if err != nil {
		return err
	}
	j, _, err := journeys.LoadFile(rest[0])
	if err != nil {
		return err
	}
	if *cohort > 0 || *modelFile != "" {
		return forecast(env, j, rest[0], *cohort, *modelFile, *seed, *start)
	}
	var c simulate.Case
	if *caseFile != "" {
		data, err := os.ReadFile(*caseFile)
		if err != nil {
			return err
		}
		if c, err = simulate.ParseCase(*caseFile, data); err != nil {
			return err
		}
		if c.Journey != "" && c.Journey != j.ID {
			return fmt.Errorf("%s is a case for journey %q, and %s is %q", *caseFile, c.Journey, rest[0], j.ID)
		}
	}
	merge(&c.Lead, flagged, *persona)
	if c.Lead.Email == "" {
		c.Lead.Email = "lead@example.test"
	}
	if *stage != "" {
		c.Stage = *stage
	}
	if *scriptFile != "" {
		data, err := os.ReadFile(*scriptFile)
		if err != nil {
			return err
		}
		actions, err := simulate.ParseScript(*scriptFile, string(data))
		if err != nil {
			return err
		}
		c.Actions = append(c.Actions, actions...)
	}
	actions, err := simulate.ParseScript("-at", strings.Join(at, "\n"))
	if err != nil {
		return err
	}
	c.Actions = append(c.Actions, actions...)
	for _, s := range expect {
		e, err := simulate.ParseExpectation(s)
		if err != nil {
			return err
		}
		c.Expectations = append(c.Expectations, e)
	}
	p := c.Lead.Profile()
	loc := zones.First(p.TimeZone, j.TimeZone)
	startAt := time.Date(defaultSimStart[0], time.Month(defaultSimStart[1]), defaultSimStart[2], 9, 0, 0, 0, loc)
	if !c.StartAt.IsZero() {
		startAt = c.StartAt
	}
	if *start != "" {
		if startAt, err = simulate.ParseStart(*start); err != nil {
			return fmt.Errorf("-start: %w", err)
		}
	}
	h, err := journeys.ParseDuration(*horizon)
	if err != nil {
		return fmt.Errorf("-horizon: %w", err)
	}
	others, err := recycleTargets(rest[0], j)
	if err != nil {
		return err
	}
	began := time.Now()
	res, err := simulate.Run(simulate.Options{Journey: j, Others: others, Lead: p, StartStage: c.Stage, Script: c.Actions, Start: startAt, Horizon: h})
	took := time.Since(began)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "simulated %s (%s) for %s, from %s (%s)\n\n", j.ID, rest[0], p.Email, startAt.In(loc).Format("Mon 2 Jan 2006 15:04"), loc)
	simulate.WriteTimeline(env.stdout, res)
	fmt.Fprintln(env.stdout)
	simulate.WriteOutcome(env.stdout, res)
	fmt.Fprintf(env.stdout, "(%s of journey time simulated in %s)\n", span.Format(res.Lines[len(res.Lines)-1].At), took.Round(time.Millisecond))
	if len(c.Expectations) == 0 {
		return nil
	}
	fmt.Fprintln(env.stdout, "\nexpectations:")
	if failed := simulate.WriteChecks(env.stdout, res, c.Expectations); failed > 0 {
		return fmt.Errorf("%d of %d expectations not met", failed, len(c.Expectations))
	}
	return nil
}

// merge lets flags fill or override what a case file says of the lead.
func merge(dst *simulate.LeadSpec, flags lead.Profile, persona string) {
	for _, f := range []struct {
		to   *string
		from string
	}{
		{&dst.Email, flags.Email}, {&dst.FirstName, flags.FirstName}, {&dst.LastName, flags.LastName}, {&dst.Company, flags.Company},
		{&dst.Title, flags.Title}, {&dst.Persona, persona}, {&dst.TimeZone, flags.TimeZone}, {&dst.Source, flags.Source},
	} {
		if f.from != "" {
			*f.to = f.from
		}
	}
	if dst.Fields == nil {
		dst.Fields = map[string]string{}
	}
	for k, v := range flags.Fields {
		dst.Fields[k] = v
	}
}

// recycleTargets are the journeys beside the simulated one, checked to
// hold the one it recycles leads into.
func recycleTargets(path string, j *journeys.Journey) ([]*journeys.Journey, error) {
	others, err := siblings(path, j.ID)
	if err != nil {
		return nil, err
	}
	if err := j.CheckRecycle(func(id string) (*journeys.Journey, bool) {
		for _, o := range others {
			if o.ID == id {
				return o, true
			}
		}
		return nil, false
	}); err != nil {
		return nil, fmt.Errorf("%w (the journeys in %s)", err, filepath.Dir(path))
	}
	return others, nil
}

// siblings are the journeys in the simulated file's folder, which it may
// recycle leads into. Files that are not journeys are passed over; the
// journey a recycle names must be among them.
func siblings(path, id string) ([]*journeys.Journey, error) {
	files, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*journeys.Journey
	for _, f := range files {
		if j, _, err := journeys.LoadFile(f); err == nil && j.ID != id {
			out = append(out, j)
		}
	}
	return out, nil
}

// forecast runs a cohort and prints what became of it.
func forecast(env *environment, j *journeys.Journey, path string, n int, modelFile string, seed uint64, start string) error {
	if n <= 0 || modelFile == "" {
		return errors.New("a forecast needs both -cohort N (how many leads) and -model FILE (how they behave)")
	}
	data, err := os.ReadFile(modelFile)
	if err != nil {
		return err
	}
	m, err := simulate.ParseModel(modelFile, data)
	if err != nil {
		return err
	}
	others, err := recycleTargets(path, j)
	if err != nil {
		return err
	}
	startAt := time.Date(defaultSimStart[0], time.Month(defaultSimStart[1]), defaultSimStart[2], 9, 0, 0, 0, time.UTC)
	if start != "" {
		if startAt, err = simulate.ParseStart(start); err != nil {
			return fmt.Errorf("-start: %w", err)
		}
	}
	began := time.Now()
	f, err := simulate.Cohort(simulate.CohortOptions{Journey: j, Others: others, Model: m, Leads: n, Seed: seed, Start: startAt, Workers: runtime.GOMAXPROCS(0)})
	if err != nil {
		return err
	}
	took := time.Since(began)
	fmt.Fprintf(env.stdout, "%s (%s), model %s, seed %d, from %s\n\n", j.ID, path, modelFile, seed, startAt.Format("Mon 2 Jan 2006"))
	simulate.WriteForecast(env.stdout, f)
	fmt.Fprintf(env.stdout, "\n(%d leads simulated in %s: %.0f leads/s)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return nil
}
