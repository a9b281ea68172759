// Package migration moves the running leads of a journey version to
// another version: it resolves the mapping of steps, surveys where each
// lead is (asking its workflow, not the database, which records a lead's
// step only when its score, stage or lifecycle change), and sends each lead
// the workflows.Migration Update, which the journey carries out at its next
// safe point.
//
// A step of the old version maps to the step of the new one that -map
// names, else to the step with the same ID, else to nothing: leads waiting
// there are reported and stay on the old version.
package migration

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// How says where a step's target came from.
type How string

// Where targets come from.
const (
	// Named: the -map flag named it.
	Named How = "mapped"
	// SameID: the new version has a step with the same ID.
	SameID How = "same ID"
	// Unmapped: no target; leads there stay on the old version.
	Unmapped How = "not mapped"
)

// Row is one step of the old version: how many leads wait there and where
// they go.
type Row struct {
	Step  string
	Kind  journeys.StepKind
	Stage string
	Leads int
	To    string
	How   How
	// KeepsPlace says whether a lead waiting here keeps its place in the
	// wait (see workflows.KeepsPlace).
	KeepsPlace bool
}

// Lead is a lead found waiting on the old version.
type Lead struct {
	ID    string
	Email string
	Step  string
}

// Plan is a migration worked out and surveyed, ready to apply.
type Plan struct {
	Migration workflows.Migration
	// Rows are the old version's steps in file order; a last row with Step
	// "" counts leads with no step left (handed off at the journey's last
	// step).
	Rows []Row
	// Leads are the leads the survey found on the old version.
	Leads []Lead
	// Elsewhere counts leads the database shows on the old version whose
	// workflow is not (it has ended, or moved on); Unanswered those whose
	// workflow did not answer, by error.
	Elsewhere  int
	Unanswered map[string]int
}

// Resolve maps each step of from to a step of to: named maps each old ID to
// a new one; otherwise a step keeps its ID if to has it. It refuses a name
// that is not a step of its version.
func Resolve(from, to *journeys.Journey, m workflows.Migration, named map[string]string) (map[string]string, []Row, error) {
	var errs []error
	for _, old := range slices.Sorted(maps.Keys(named)) {
		if _, ok := from.Step(old); !ok {
			errs = append(errs, fmt.Errorf("-map %s=%s: %q is not a step of %s version %d", old, named[old], old, m.JourneyID, m.From))
		}
		if _, ok := to.Step(named[old]); !ok {
			errs = append(errs, fmt.Errorf("-map %s=%s: %q is not a step of %s version %d", old, named[old], named[old], m.JourneyID, m.To))
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	steps := map[string]string{}
	var rows []Row
	for _, loc := range from.Steps() {
		row := Row{Step: loc.Step.ID, Kind: loc.Step.Kind(), Stage: loc.Stage, How: Unmapped}
		if target, ok := named[loc.Step.ID]; ok {
			row.To, row.How = target, Named
		} else if _, ok := to.Step(loc.Step.ID); ok {
			row.To, row.How = loc.Step.ID, SameID
		}
		if row.To != "" {
			steps[row.Step] = row.To
			target, _ := to.Step(row.To)
			row.KeepsPlace = workflows.KeepsPlace(loc.Step, target.Step)
		}
		rows = append(rows, row)
	}
	return steps, rows, nil
}

// Versions loads the two versions; to 0 is the latest.
func Versions(ctx context.Context, db store.DB, journeyID string, from, to int) (*journeys.Journey, *journeys.Journey, int, error) {
	a, _, err := store.LoadJourney(ctx, db, journeyID, from)
	if err != nil {
		return nil, nil, 0, err
	}
	b, to, err := store.LoadJourney(ctx, db, journeyID, to)
	if err != nil {
		return nil, nil, 0, err
	}
	return &a, &b, to, nil
}

// surveyPage is how many leads the survey reads from the database at once.
const surveyPage = 500

// Survey finds the leads running on the migration's old version and asks
// each workflow where it is, concurrency at a time; done is called after
// each lead. The rows' counts are filled in.
func Survey(ctx context.Context, db store.DB, c client.Client, m workflows.Migration, rows []Row, concurrency int, done func()) (*Plan, error) {
	p := &Plan{Migration: m, Rows: slices.Clone(rows), Unanswered: map[string]int{}}
	index := map[string]int{}
	for i, r := range p.Rows {
		index[r.Step] = i
	}
	var mu sync.Mutex
	after := ""
	for {
		page, err := store.ListRunningOn(ctx, db, m.JourneyID, m.From, after, surveyPage)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Profile.ID
		each(ctx, page, concurrency, func(l store.LeadRow) {
			st, err := workflows.QueryLead(ctx, c, l.Profile.ID)
			mu.Lock()
			defer mu.Unlock()
			defer done()
			switch {
			case err != nil:
				p.Unanswered[errorKind(err)]++
			case st.JourneyID != m.JourneyID || st.JourneyVersion != m.From || isOver(st.Lifecycle):
				p.Elsewhere++
			default:
				i, ok := index[st.Step]
				if !ok {
					i = len(p.Rows)
					index[st.Step] = i
					p.Rows = append(p.Rows, Row{Step: st.Step, How: Unmapped})
				}
				p.Rows[i].Leads++
				p.Leads = append(p.Leads, Lead{ID: l.Profile.ID, Email: l.Profile.Email, Step: st.Step})
			}
		})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(p.Leads, func(a, b Lead) int { return cmp.Compare(a.ID, b.ID) })
	return p, nil
}

// Total counts the leads on the old version by the survey.
func (p *Plan) Total() int { return len(p.Leads) }

// Stranded counts the surveyed leads at steps with no target.
func (p *Plan) Stranded() int {
	n := 0
	for _, r := range p.Rows {
		if r.How == Unmapped && r.Step != "" {
			n += r.Leads
		}
	}
	return n
}

func isOver(lifecycle workflows.Lifecycle) bool {
	switch lifecycle {
	case workflows.LifecycleNurturing, workflows.LifecycleMQL, workflows.LifecycleHandedOff:
		return false
	}
	return true
}

// errorKind names an error for counting: without the wrapping that names
// the lead, so the errors of many leads count together.
func errorKind(err error) string {
	var nf *serviceerror.NotFound
	if errors.Is(err, workflows.ErrNoJourney) || errors.As(err, &nf) {
		return "no journey running in Temporal"
	}
	if inner := errors.Unwrap(err); inner != nil {
		return inner.Error()
	}
	return err.Error()
}

// Outcome is what came of one lead.
type Outcome struct {
	Lead   Lead
	Result workflows.MigrationResult
	// Waiting is true when the journey took the migration and is in the
	// middle of a send; Err, when neither it moved nor is waiting, why.
	Waiting bool
	Err     error
}

// Summary counts the outcomes of Apply.
type Summary struct {
	Moved, KeptPlace, Waiting int
	// Stayed counts leads at unmapped steps, which were not asked.
	Stayed int
	// Refused counts the leads whose journey refused, by its reason;
	// Failed those that could not be asked, by error.
	Refused map[string]int
	Failed  map[string]int
}

// Left counts the leads that did not move and will not: at unmapped
// steps, refused, or not asked.
func (s Summary) Left() int { return s.Stayed + count(s.Refused) + count(s.Failed) }

// Silent counts the leads whose journeys did not answer the survey.
func (p *Plan) Silent() int { return count(p.Unanswered) }

// Apply asks each surveyed lead at a mapped step to move, concurrency at a
// time, waiting up to wait for each; done is called with each outcome.
func Apply(ctx context.Context, c client.Client, p *Plan, concurrency int, wait time.Duration, done func(Outcome)) Summary {
	s := Summary{Refused: map[string]int{}, Failed: map[string]int{}}
	var asked []Lead
	for _, l := range p.Leads {
		if _, ok := p.Migration.Steps[l.Step]; ok || l.Step == "" {
			asked = append(asked, l)
		} else {
			s.Stayed++
		}
	}
	var mu sync.Mutex
	each(ctx, asked, concurrency, func(l Lead) {
		res, err := workflows.MigrateLead(ctx, c, l.ID, p.Migration, wait)
		o := Outcome{Lead: l, Result: res}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			s.Moved++
			if res.KeptPlace {
				s.KeptPlace++
			}
		case errors.Is(err, workflows.ErrMigrationWaiting):
			o.Waiting = true
			s.Waiting++
		case errors.Is(err, workflows.ErrRefused):
			o.Err = err
			s.Refused[refusal(err, l.ID)]++
		default:
			o.Err = err
			s.Failed[errorKind(err)]++
		}
		done(o)
	})
	if ctx.Err() != nil {
		s.Failed["interrupted: "+ctx.Err().Error()] += len(asked) - s.Moved - s.Waiting - count(s.Refused) - count(s.Failed)
	}
	return s
}

// refusal is the journey's reason without the lead's ID (a journey names
// its lead by ID, never by address, in what its history keeps), so
// refusals of many leads count together.
func refusal(err error, leadID string) string {
	return strings.ReplaceAll(err.Error(), "lead "+leadID, "the lead")
}

func count(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// each runs f on every item, concurrency at a time, until ctx is done.
func each[T any](ctx context.Context, items []T, concurrency int, f func(T)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(concurrency, 1))
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(it)
		})
	}
	wg.Wait()
}
