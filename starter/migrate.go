package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/migration"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

const migrateAbout = `Moves the running leads of one version of a journey to another. First a dry
run: it asks every lead's journey where it is and lists, for each step of the
old version, how many leads wait there and the step of the new version they
go to (the step -map names, else the step with the same ID). Leads at a step
with no target are reported and stay. With -apply the leads move, each at its
next safe point (never in the middle of a send), keeping score, history,
stage and sends; a lead waiting in a step that maps to one of the same kind
keeps its place in the wait (the new wait counts from when it entered).

-content-only moves the leads of every older version whose steps and rules
are the same as the new one's (only subjects and texts changed) where they
stand, with no mapping to write.`

func runMigrate(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "migrate", "", migrateAbout)
	journey := fs.String("journey", "", "the journey (required)")
	from := fs.Int("from", 0, "the version the leads are on (required, but for -content-only: every older version)")
	to := fs.Int("to", 0, "the version they move to (default: the latest)")
	named := keyValues{}
	fs.Var(named, "map", "old-step=new-step (repeatable): where leads at a step of the old version go")
	contentOnly := fs.Bool("content-only", false, "the new version changes only content: move leads where they stand")
	apply := fs.Bool("apply", false, "move the leads (without it, a dry run)")
	workers := fs.Int("concurrency", 8, "journeys asked at once")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for each lead to move (a send in flight goes first)")
	if _, err := positional(fs, args, 0, ""); err != nil {
		return err
	}
	switch {
	case *journey == "":
		return misused(fs, errors.New("name the journey: -journey ID"))
	case *from == 0 && !*contentOnly:
		return misused(fs, errors.New("name the version the leads are on: -from N (or -content-only for every older version)"))
	case *contentOnly && len(named) > 0:
		return misused(fs, errors.New("-content-only moves leads where they stand; it takes no -map"))
	case *workers < 1 || *workers > 64:
		return misused(fs, fmt.Errorf("-concurrency %d: from 1 to 64", *workers))
	}
	for k, v := range named {
		if v == "" {
			return misused(fs, fmt.Errorf("-map %s=: name the step of the new version leads at %q go to", k, k))
		}
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	m := &migrator{ctx: ctx, env: env, conn: conn, apply: *apply, workers: *workers, wait: *wait}

	target, toVersion, err := store.LoadJourney(ctx, conn.db, *journey, *to)
	if err != nil {
		return err
	}
	froms := []int{*from}
	if *contentOnly && *from == 0 {
		if froms, err = olderRunning(ctx, conn.db, *journey, toVersion); err != nil {
			return err
		}
		if len(froms) == 0 {
			fmt.Fprintf(env.stdout, "no lead runs on a version of %s older than %d: nothing to move\n", *journey, toVersion)
			return nil
		}
	}
	var left int
	for _, v := range froms {
		n, err := m.version(*journey, v, toVersion, &target, named, *contentOnly)
		if err != nil {
			return err
		}
		left += n
	}
	if left > 0 {
		return fmt.Errorf("not moved (see above): %s", nLeads(left))
	}
	return nil
}

// olderRunning lists the versions of a journey older than to that have
// leads running, by the database's count.
func olderRunning(ctx context.Context, db store.DB, journey string, to int) ([]int, error) {
	all, err := store.ListJourneys(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, v := range all {
		if v.JourneyID == journey && v.Version < to && v.Running > 0 {
			out = append(out, v.Version)
		}
	}
	slices.Sort(out)
	return out, nil
}

type migrator struct {
	ctx     context.Context
	env     *environment
	conn    *connection
	apply   bool
	workers int
	wait    time.Duration
}

// version migrates (or plans to) the leads of one version, and returns how
// many it left where they were.
func (m *migrator) version(journey string, from, to int, target *journeys.Journey, named map[string]string, contentOnly bool) (int, error) {
	w := m.env.stdout
	if from == to {
		return 0, fmt.Errorf("-from %d -to %d: leads on version %d are there already", from, to, to)
	}
	old, _, err := store.LoadJourney(m.ctx, m.conn.db, journey, from)
	if err != nil {
		return 0, err
	}
	plan := workflows.Migration{JourneyID: journey, From: from, To: to}
	if contentOnly {
		if err := journeys.ContentOnlyChange(&old, target); err != nil {
			running, cerr := countRunningOn(m.ctx, m.conn.db, journey, from)
			if cerr != nil {
				return 0, cerr
			}
			fmt.Fprintf(w, "%s version %d → %d is not a content-only change (%v): its running leads stay (%s); move them with -from %d and -map\n",
				journey, from, to, err, nLeads(running), from)
			return running, nil
		}
	}
	steps, rows, err := migration.Resolve(&old, target, plan, named)
	if err != nil {
		return 0, err
	}
	plan.Steps = steps
	if len(steps) == 0 {
		return 0, fmt.Errorf("no step of %s version %d has a step with its ID in version %d: map them with -map OLD=NEW", journey, from, to)
	}
	total, err := countRunningOn(m.ctx, m.conn.db, journey, from)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "%s version %d → %d: the database shows %s running on version %d; asking each journey where it is\n", journey, from, to, nLeads(total), from)
	survey := newMeter(m.env.stderr, meterText{doing: "surveying", did: "asked", unit: "leads"}, int64(total), isTerminal(m.env.stderr), 5*time.Second)
	p, err := migration.Survey(m.ctx, m.conn.db, m.conn.temporal, plan, rows, m.workers, survey.add)
	survey.done()
	if err != nil {
		return 0, err
	}
	printPlan(w, p)
	stranded := p.Stranded()
	if !m.apply {
		fmt.Fprintf(w, "dry run: nothing moved. Run again with -apply to move %s", nLeads(p.Total()-stranded))
		if stranded > 0 {
			fmt.Fprintf(w, "; %s at steps not mapped would stay on version %d (map them with -map OLD=NEW)", nLeads(stranded), from)
		}
		fmt.Fprintln(w, ".")
		return 0, nil
	}
	bar := newMeter(m.env.stderr, meterText{doing: "migrating", did: "moved", unit: "leads"}, int64(p.Total()-stranded), isTerminal(m.env.stderr), 5*time.Second)
	s := migration.Apply(m.ctx, m.conn.temporal, p, m.workers, m.wait, func(migration.Outcome) { bar.add() })
	bar.done()
	fmt.Fprintf(w, "moved %s to version %d (%d kept their place in a wait)\n", nLeads(s.Moved), to, s.KeptPlace)
	if s.Waiting > 0 {
		fmt.Fprintf(w, "took the migration but were busy past -wait (a send in flight or held by a pause, or a dependency they retry), each moving when that is done: %s\n", nLeads(s.Waiting))
	}
	if s.Stayed > 0 {
		fmt.Fprintf(w, "left on version %d, their steps not mapped: %s\n", from, nLeads(s.Stayed))
	}
	for _, why := range slices.Sorted(maps.Keys(s.Refused)) {
		fmt.Fprintf(w, "left on version %d, refused by their journey (%s): %s\n", from, why, nLeads(s.Refused[why]))
	}
	for _, why := range slices.Sorted(maps.Keys(s.Failed)) {
		fmt.Fprintf(w, "could not be asked (%s): %s\n", why, nLeads(s.Failed[why]))
	}
	if p.Silent() > 0 {
		fmt.Fprintf(w, "not asked to move, their journeys did not answer: %s\n", nLeads(p.Silent()))
	}
	return s.Left() + p.Silent(), nil
}

func countRunningOn(ctx context.Context, db store.DB, journey string, version int) (int, error) {
	all, err := store.ListJourneys(ctx, db)
	if err != nil {
		return 0, err
	}
	for _, v := range all {
		if v.JourneyID == journey && v.Version == version {
			return v.Running, nil
		}
	}
	return 0, fmt.Errorf("journey %q version %d: %w", journey, version, store.ErrNotFound)
}

// printPlan lists the old version's steps with the leads at each and
// where they go.
func printPlan(out io.Writer, p *migration.Plan) {
	w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintf(w, "STEP (v%d)\tKIND\tSTAGE\tLEADS\tGOES TO (v%d)\n", p.Migration.From, p.Migration.To)
	for _, r := range p.Rows {
		if r.Step == "" && r.Leads == 0 {
			continue
		}
		step := r.Step
		if step == "" {
			step = "(none: handed off at the end)"
		}
		var to string
		switch {
		case r.How == migration.Unmapped && r.Step != "":
			to = fmt.Sprintf("NOT MAPPED: its leads stay on version %d", p.Migration.From)
		case r.Step == "":
			to = "(moves version only)"
		case !workflows.WaitsIn(r.Kind):
			to = fmt.Sprintf("%s (%s)", r.To, r.How)
		case r.KeepsPlace:
			to = fmt.Sprintf("%s (%s; keeps its place)", r.To, r.How)
		default:
			to = fmt.Sprintf("%s (%s; enters it afresh)", r.To, r.How)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", step, r.Kind, r.Stage, r.Leads, to)
	}
	_ = w.Flush()
	if p.Elsewhere > 0 {
		fmt.Fprintf(out, "shown by the database on version %d, but not there by their journey (ended or moved on), left alone: %s\n", p.Migration.From, nLeads(p.Elsewhere))
	}
	for _, why := range slices.Sorted(maps.Keys(p.Unanswered)) {
		fmt.Fprintf(out, "journeys that did not answer (%s): %s\n", strings.TrimSpace(why), nLeads(p.Unanswered[why]))
	}
}

// nLeads says "1 lead" or "n leads".
func nLeads(n int) string {
	if n == 1 {
		return "1 lead"
	}
	return fmt.Sprintf("%d leads", n)
}
