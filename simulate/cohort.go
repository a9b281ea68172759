package simulate

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/span"
	"github.com/nurture-dev/nurture/workflows"
)

// MaxCohort bounds a forecast's leads.
const MaxCohort = 100_000

// Model is how a cohort of synthetic leads looks and behaves, read from a
// YAML file (see the README):
//
//	profiles:                # weighted kinds of lead; each field picked from its list
//	  - {weight: 2, title: [CTO, VP Engineering], persona: [executive], fields: {employees: ["250", "1200"]}}
//	  - {weight: 8, title: [Developer], persona: [technical]}
//	emails:                  # chances of what a lead does after an email, by content item
//	  default: {email_open: 0.4, email_click: 0.08, unsubscribe: 0.01}
//	  webinar-invite: {email_open: 0.5, webinar_signup: 0.2}
//	emails_within: 2d        # when those come: uniformly within this after the email
//	weekly: {page_view: 0.5, pricing_page_view: 0.05, demo_request: 0.02}
//	sales: {accepted: 0.5, rejected: 0.2, recycle: 0.3}
//	sales_within: 3d
//	tasks: {interested: 0.3, not_now: 0.4}   # the rest are never reported
//	tasks_within: 2d
//	horizon: 26w
type Model struct {
	Profiles     []ProfileKind                 `yaml:"profiles"`
	Emails       map[string]map[string]float64 `yaml:"emails"`
	EmailsWithin string                        `yaml:"emails_within"`
	Weekly       map[string]float64            `yaml:"weekly"`
	Sales        map[string]float64            `yaml:"sales"`
	SalesWithin  string                        `yaml:"sales_within"`
	Tasks        map[string]float64            `yaml:"tasks"`
	TasksWithin  string                        `yaml:"tasks_within"`
	Horizon      string                        `yaml:"horizon"`

	emailsWithin, salesWithin, tasksWithin, horizon time.Duration
}

// ProfileKind is one kind of lead and how often it comes.
type ProfileKind struct {
	Weight   int                 `yaml:"weight"`
	Title    []string            `yaml:"title"`
	Company  []string            `yaml:"company"`
	Persona  []string            `yaml:"persona"`
	TimeZone []string            `yaml:"time_zone"`
	Source   []string            `yaml:"source"`
	Fields   map[string][]string `yaml:"fields"`
}

// ParseModel reads and checks an engagement model; every mistake is said.
func ParseModel(name string, src []byte) (*Model, error) {
	var m Model
	if len(src) > MaxCaseBytes {
		return nil, fmt.Errorf("%s is %d bytes; a model is at most %d", name, len(src), MaxCaseBytes)
	}
	if err := refuseAliases(name, src); err != nil {
		return nil, err
	}
	if err := decodeStrict(src, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if len(m.Profiles) == 0 {
		bad("profiles: describe at least one kind of lead")
	}
	for i, p := range m.Profiles {
		if p.Weight < 0 || p.Weight > 1_000_000 {
			bad("profiles[%d].weight %d: a whole number from 0 to 1000000", i, p.Weight)
		}
	}
	chances := func(where string, m map[string]float64, events bool) {
		sum := 0.0
		for k, p := range m {
			if p < 0 || p > 1 {
				bad("%s.%s: chance %v; write a number from 0 to 1", where, k, p)
			}
			sum += p
			if events && !lead.EventType(k).Known() {
				bad("%s: %q is not an event type; event types: %s", where, k, lead.KnownEventTypeList())
			}
		}
		if !events && sum > 1.0000001 {
			bad("%s: the chances add up to %.2f; at most 1 (the rest: no answer)", where, sum)
		}
	}
	for item, evs := range m.Emails {
		chances("emails."+item, evs, true)
	}
	chances("weekly", m.Weekly, true)
	chances("sales", m.Sales, false)
	for v := range m.Sales {
		if err := (workflows.SalesFeedback{Verdict: workflows.Verdict(v)}).Validate(); err != nil {
			bad("sales: %v", err)
		}
	}
	chances("tasks", m.Tasks, false)
	for _, d := range []struct {
		name, value, dflt string
		to                *time.Duration
	}{
		{"emails_within", m.EmailsWithin, "2d", &m.emailsWithin}, {"sales_within", m.SalesWithin, "3d", &m.salesWithin},
		{"tasks_within", m.TasksWithin, "2d", &m.tasksWithin}, {"horizon", m.Horizon, "26w", &m.horizon},
	} {
		v := d.value
		if v == "" {
			v = d.dflt
		}
		x, err := span.Parse(v)
		if err != nil {
			bad("%s: %v", d.name, err)
		} else if x > MaxJourneyTime {
			bad("%s: %s is longer than a simulation runs", d.name, v)
		}
		*d.to = x
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &m, nil
}

// lead draws the i-th synthetic lead.
func (m *Model) lead(i int, rng *rand.Rand) lead.Profile {
	total := 0
	for _, p := range m.Profiles {
		total += p.Weight
	}
	kind := m.Profiles[0]
	if total > 0 {
		n := rng.IntN(total)
		for _, p := range m.Profiles {
			if n < p.Weight {
				kind = p
				break
			}
			n -= p.Weight
		}
	}
	pick := func(from []string) string {
		if len(from) == 0 {
			return ""
		}
		return from[rng.IntN(len(from))]
	}
	p := lead.Profile{Email: fmt.Sprintf("lead-%d@cohort.invalid", i+1), FirstName: fmt.Sprintf("Lead%d", i+1),
		Title: pick(kind.Title), Company: pick(kind.Company), TimeZone: pick(kind.TimeZone), Source: pick(kind.Source), Fields: map[string]string{}}
	if persona := pick(kind.Persona); persona != "" {
		p.Fields["persona"] = persona
	}
	for _, k := range slices.Sorted(maps.Keys(kind.Fields)) {
		if v := pick(kind.Fields[k]); v != "" {
			p.Fields[k] = v
		}
	}
	return p
}

// weekly draws the events a lead does on its own, as a script.
func (m *Model) weekly(rng *rand.Rand) []Action {
	var out []Action
	week := 7 * 24 * time.Hour
	types := slices.Sorted(maps.Keys(m.Weekly))
	for start := time.Duration(0); start < m.horizon; start += week {
		for _, t := range types {
			if rng.Float64() < m.Weekly[t] {
				out = append(out, Action{Kind: ActEvent, Event: lead.EventType(t), Clock: -1, After: start + time.Duration(rng.Int64N(int64(week)))})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].After < out[j].After })
	return out
}

// pickOne draws one of the outcomes by their chances; "" for none.
func pickOne(rng *rand.Rand, chances map[string]float64) string {
	x := rng.Float64()
	for _, k := range slices.Sorted(maps.Keys(chances)) {
		if x < chances[k] {
			return k
		}
		x -= chances[k]
	}
	return ""
}

// reactions is how a synthetic lead, and sales, answer what the journey
// does: the memory activities call them, and they schedule the answers.
type reactions struct {
	m   *Model
	rng *rand.Rand
	mu  sync.Mutex
}

func (r *reactions) afterEmail(contentID string) []Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	chances, ok := r.m.Emails[contentID]
	if !ok {
		chances = r.m.Emails["default"]
	}
	var out []Action
	for _, t := range slices.Sorted(maps.Keys(chances)) {
		if r.rng.Float64() < chances[t] {
			out = append(out, Action{Kind: ActEvent, Event: lead.EventType(t), Clock: -1, After: r.within(r.m.emailsWithin)})
		}
	}
	return out
}

func (r *reactions) afterHandoff() []Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := pickOne(r.rng, r.m.Sales); v != "" {
		return []Action{{Kind: ActVerdict, Verdict: v, Clock: -1, After: r.within(r.m.salesWithin)}}
	}
	return nil
}

func (r *reactions) afterTask(outcomes []string) []Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := pickOne(r.rng, r.m.Tasks); o != "" && slices.Contains(outcomes, o) {
		return []Action{{Kind: ActTask, Outcome: o, Clock: -1, After: r.within(r.m.tasksWithin)}}
	}
	return nil
}

func (r *reactions) within(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Minute
	}
	return time.Minute + time.Duration(r.rng.Int64N(int64(d)))
}

// Forecast is what a cohort came to.
type Forecast struct {
	Leads int
	// Entered counts leads that were in each stage at some point; Stages
	// is the journey's order of them.
	Stages  []string
	Entered map[string]int
	MQL     int
	Handoff int
	// Verdicts counts sales' verdicts by kind.
	Verdicts map[string]int
	// Exits counts how leads ended, by reason and the stage they were in.
	Exits   map[ExitAt]int
	Running int
	// DaysToMQL and DaysToHandoff are medians over the leads that got
	// there; -1 when none did.
	DaysToMQL, DaysToHandoff float64
	Cost                     float64
	Accepted                 int
	Emails                   int
}

// ExitAt is an exit reason and the stage the lead left from.
type ExitAt struct{ Reason, Stage string }

// CohortOptions are a forecast.
type CohortOptions struct {
	Journey *journeys.Journey
	Others  []*journeys.Journey
	Model   *Model
	Leads   int
	Seed    uint64
	Start   time.Time
	// Workers run leads side by side (at least 1).
	Workers int
}

// Cohort simulates N synthetic leads and adds up what became of them. The
// same seed gives the same forecast: each lead draws from a generator of
// its own, seeded by the seed and its number.
func Cohort(o CohortOptions) (Forecast, error) {
	if o.Leads <= 0 || o.Leads > MaxCohort {
		return Forecast{}, fmt.Errorf("a cohort is 1 to %d leads, not %d", MaxCohort, o.Leads)
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	outcomes := make([]Outcome, o.Leads)
	errs := make([]error, o.Leads)
	next := make(chan int)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				outcomes[i], errs[i] = o.one(i)
			}
		}()
	}
	for i := range o.Leads {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Forecast{}, err
	}
	return o.add(outcomes), nil
}

func (o CohortOptions) one(i int) (Outcome, error) {
	rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
	p := o.Model.lead(i, rng)
	res, err := Run(Options{Journey: o.Journey, Others: o.Others, Lead: p, Script: o.Model.weekly(rng), Start: o.Start,
		Horizon: o.Model.horizon, react: &reactions{m: o.Model, rng: rng}})
	if err != nil {
		return Outcome{}, fmt.Errorf("lead %d (%s): %w", i+1, p.Email, err)
	}
	return res.Outcome, nil
}

func (o CohortOptions) add(outcomes []Outcome) Forecast {
	f := Forecast{Leads: len(outcomes), Entered: map[string]int{}, Verdicts: map[string]int{}, Exits: map[ExitAt]int{}}
	for _, s := range o.Journey.Stages {
		f.Stages = append(f.Stages, s.ID)
	}
	var toMQL, toHandoff []float64
	for _, out := range outcomes {
		for _, s := range dedupe(out.Stages) {
			f.Entered[s]++
			if !slices.Contains(f.Stages, s) {
				f.Stages = append(f.Stages, s)
			}
		}
		if out.MQLAt != nil {
			f.MQL++
			toMQL = append(toMQL, days(*out.MQLAt))
		}
		if out.HandoffAt != nil {
			f.Handoff++
			toHandoff = append(toHandoff, days(*out.HandoffAt))
		}
		for _, v := range out.Verdicts {
			f.Verdicts[v]++
		}
		if slices.Contains(out.Verdicts, string(workflows.VerdictAccepted)) {
			f.Accepted++
		}
		switch {
		case out.Running:
			f.Running++
		default:
			reason := out.ExitReason
			if reason == "" {
				reason = out.Lifecycle
			}
			f.Exits[ExitAt{Reason: reason, Stage: out.Stage}]++
		}
		f.Cost += out.Cost()
		f.Emails += len(out.Sent)
	}
	f.DaysToMQL, f.DaysToHandoff = median(toMQL), median(toHandoff)
	return f
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// WriteForecast prints the funnel, the exits, the times and the costs.
func WriteForecast(w interface{ Write([]byte) (int, error) }, f Forecast) {
	pct := func(n int) string { return fmt.Sprintf("%5.1f%%", 100*float64(n)/float64(max(f.Leads, 1))) }
	fmt.Fprintf(w, "forecast for %d leads\n\nfunnel\n", f.Leads)
	for _, s := range f.Stages {
		fmt.Fprintf(w, "  %-22s %7d  %s\n", "reached "+s, f.Entered[s], pct(f.Entered[s]))
	}
	fmt.Fprintf(w, "  %-22s %7d  %s\n", "MQL", f.MQL, pct(f.MQL))
	fmt.Fprintf(w, "  %-22s %7d  %s\n", "handed off", f.Handoff, pct(f.Handoff))
	for _, v := range workflows.Verdicts() {
		fmt.Fprintf(w, "  %-22s %7d  %s\n", "sales: "+v, f.Verdicts[string(v)], pct(f.Verdicts[string(v)]))
	}
	fmt.Fprintln(w, "\nhow leads ended (reason, stage)")
	exits := slices.Collect(func(yield func(ExitAt) bool) {
		for e := range f.Exits {
			if !yield(e) {
				return
			}
		}
	})
	sort.Slice(exits, func(i, j int) bool {
		if f.Exits[exits[i]] != f.Exits[exits[j]] {
			return f.Exits[exits[i]] > f.Exits[exits[j]]
		}
		return exits[i].Reason+exits[i].Stage < exits[j].Reason+exits[j].Stage
	})
	for _, e := range exits {
		fmt.Fprintf(w, "  %-22s %-14s %7d  %s\n", e.Reason, e.Stage, f.Exits[e], pct(f.Exits[e]))
	}
	if f.Running > 0 {
		fmt.Fprintf(w, "  %-37s %7d  %s\n", "still in the journey at the horizon", f.Running, pct(f.Running))
	}
	fmt.Fprintln(w, "\ntimes (median, journey days)")
	for _, t := range []struct {
		what string
		v    float64
	}{{"to MQL", f.DaysToMQL}, {"to hand-off", f.DaysToHandoff}} {
		if t.v < 0 {
			fmt.Fprintf(w, "  %-22s %s\n", t.what, "none got there")
			continue
		}
		fmt.Fprintf(w, "  %-22s %7.1f\n", t.what, t.v)
	}
	fmt.Fprintf(w, "\ncost (content and tasks)\n  %-22s %10.2f\n  %-22s %10.2f\n", "total", f.Cost, "per lead", f.Cost/float64(max(f.Leads, 1)))
	for _, c := range []struct {
		what string
		n    int
	}{{"per hand-off", f.Handoff}, {"per accepted lead", f.Accepted}} {
		if c.n == 0 {
			fmt.Fprintf(w, "  %-22s %10s\n", c.what, "(none)")
			continue
		}
		fmt.Fprintf(w, "  %-22s %10.2f\n", c.what, f.Cost/float64(c.n))
	}
	fmt.Fprintf(w, "  %-22s %10d\n", "emails sent", f.Emails)
}
