package scoring_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// The classic B2B points table.
var classic = scoring.Model{MQL: 40, Events: map[lead.EventType]scoring.EventRule{
	lead.PageView:           {Points: 1, Axis: scoring.Interest},
	lead.NewsletterSignup:   {Points: 10, Axis: scoring.Interest},
	lead.EmailOpen:          {Points: 2, Axis: scoring.Interest},
	lead.EmailClick:         {Points: 3, Axis: scoring.Interest},
	lead.WhitepaperDownload: {Points: 15, Axis: scoring.Interest},
	lead.WebinarSignup:      {Points: 20, Axis: scoring.Interest},
	lead.SeminarSignup:      {Points: 25, Axis: scoring.Interest},
	lead.DemoRequest:        {Points: 40, Axis: scoring.Intent},
}}

func ev(typ lead.EventType, props ...string) lead.Event {
	e := lead.Event{ID: string(typ), Type: typ, Properties: map[string]string{}}
	for i := 0; i+1 < len(props); i += 2 {
		e.Properties[props[i]] = props[i+1]
	}
	return e
}

type at struct {
	after time.Duration
	event lead.Event
}

func score(m scoring.Model, p lead.Profile, when time.Duration, events ...at) scoring.Score {
	var s scoring.State
	for _, e := range events {
		m.Apply(&s, e.event, t0.Add(e.after))
	}
	return m.Score(s, p, t0.Add(when))
}

func line(t *testing.T, s scoring.Score, rule string) scoring.Line {
	t.Helper()
	for _, l := range s.Breakdown {
		if l.Rule == rule {
			return l
		}
	}
	t.Fatalf("no line %q in %+v", rule, s.Breakdown)
	return scoring.Line{}
}

func TestClassicPointsTable(t *testing.T) {
	t.Parallel()
	s := score(classic, lead.Profile{}, 0,
		at{0, ev(lead.PageView)}, at{0, ev(lead.PageView)}, at{0, ev(lead.NewsletterSignup)}, at{0, ev(lead.EmailOpen)},
		at{0, ev(lead.EmailClick)}, at{0, ev(lead.WhitepaperDownload)}, at{0, ev(lead.WebinarSignup)}, at{0, ev(lead.SeminarSignup)},
		at{0, ev(lead.Unsubscribe)})
	require.Equal(t, 1+1+10+2+3+15+20+25, s.Interest)
	require.Equal(t, 0, s.Intent)
	require.Equal(t, scoring.Line{Rule: "event:page_view", Axis: scoring.Interest, Count: 2, Points: 2, Decayed: 2}, line(t, s, "event:page_view"))
	require.Len(t, s.Breakdown, 7, "unscored events leave no line")
}

func TestRuleKinds(t *testing.T) {
	t.Parallel()
	ten, hundred, fiveK := 10.0, 100.0, 5000.0
	tests := []struct {
		name  string
		model scoring.Model
		p     lead.Profile
		when  time.Duration
		evs   []at
		check func(t *testing.T, s scoring.Score)
	}{
		{"cap per week", scoring.Model{Events: map[lead.EventType]scoring.EventRule{
			lead.PageView: {Points: 1, Axis: scoring.Interest, Cap: &scoring.Cap{Max: 3, Per: "1w"}}}},
			lead.Profile{}, 8 * day,
			[]at{{0, ev(lead.PageView)}, {day, ev(lead.PageView)}, {2 * day, ev(lead.PageView)}, {3 * day, ev(lead.PageView)}, {8 * day, ev(lead.PageView)}},
			func(t *testing.T, s scoring.Score) {
				require.Equal(t, 4, s.Interest, "the fourth view in a week counts nothing; a week after the first it counts again")
			}},
		{"diminishing repeats", scoring.Model{Events: map[lead.EventType]scoring.EventRule{
			lead.WhitepaperDownload: {Points: 15, Axis: scoring.Interest, Repeat: &scoring.Repeat{After: 2, Points: -2}}}},
			lead.Profile{}, 0,
			[]at{{0, ev(lead.WhitepaperDownload)}, {0, ev(lead.WhitepaperDownload)}, {0, ev(lead.WhitepaperDownload)}, {0, ev(lead.WhitepaperDownload)}},
			func(t *testing.T, s scoring.Score) { require.Equal(t, 15+15-2-2, s.Interest) }},
		{"properties refine points", scoring.Model{Events: map[lead.EventType]scoring.EventRule{
			lead.PageView: {Points: 1, Axis: scoring.Interest, Properties: []scoring.PropertyRule{
				{Name: "page", Contains: "/pricing", Points: 10}, {Name: "page", Equals: "/careers", Points: -5}}}}},
			lead.Profile{}, 0,
			[]at{{0, ev(lead.PageView, "page", "/Pricing/enterprise")}, {0, ev(lead.PageView, "page", "/careers")}, {0, ev(lead.PageView, "page", "/blog")}},
			func(t *testing.T, s scoring.Score) { require.Equal(t, 10-5+1, s.Interest) }},
		{"combo within a window, once", scoring.Model{
			Events: map[lead.EventType]scoring.EventRule{lead.WebinarAttended: {Points: 25, Axis: scoring.Interest}, lead.PricingPageView: {Points: 15, Axis: scoring.Intent}},
			Combos: []scoring.Combo{{Name: "webinar-then-pricing", All: []lead.EventType{lead.WebinarAttended, lead.PricingPageView}, Within: "7d", Points: 20, Axis: scoring.Intent}}},
			lead.Profile{}, 10 * day,
			[]at{{0, ev(lead.WebinarAttended)}, {5 * day, ev(lead.PricingPageView)}, {6 * day, ev(lead.PricingPageView)}},
			func(t *testing.T, s scoring.Score) {
				require.Equal(t, 15+15+20, s.Intent)
				require.Equal(t, 1, line(t, s, "combo:webinar-then-pricing").Count)
			}},
		{"combo outside its window", scoring.Model{
			Events: map[lead.EventType]scoring.EventRule{lead.WebinarAttended: {Points: 25, Axis: scoring.Interest}, lead.PricingPageView: {Points: 15, Axis: scoring.Intent}},
			Combos: []scoring.Combo{{Name: "c", All: []lead.EventType{lead.WebinarAttended, lead.PricingPageView}, Within: "7d", Points: 20, Axis: scoring.Intent}}},
			lead.Profile{}, 10 * day,
			[]at{{0, ev(lead.WebinarAttended)}, {9 * day, ev(lead.PricingPageView)}},
			func(t *testing.T, s scoring.Score) { require.Equal(t, 15, s.Intent) }},
		{"negative events", scoring.Model{Events: map[lead.EventType]scoring.EventRule{
			lead.EmailClick: {Points: 3, Axis: scoring.Interest}, lead.NotInterested: {Points: -50, Axis: scoring.Interest}}},
			lead.Profile{}, 0,
			[]at{{0, ev(lead.EmailClick)}, {0, ev(lead.NotInterested)}},
			func(t *testing.T, s scoring.Score) { require.Equal(t, -47, s.Interest) }},
		{"fit rules", scoring.Model{Fit: []scoring.FitRule{
			{Field: "title", OneOf: []string{"CTO", "VP Engineering"}, Points: 15},
			{Field: "department", Equals: "engineering", Points: 5},
			{Field: "employees", Range: &scoring.Range{Min: &hundred, Max: &fiveK}, Points: 10},
			{Field: "revenue", Range: &scoring.Range{Min: &ten}, Points: 5},
			{Name: "free-mail", Field: "email", Contains: []string{"@gmail.", "@yahoo."}, Points: -20},
			{Name: "competitor", Field: "company", Equals: "Rival Inc", Points: -100},
			{Field: "bant_authority", Equals: "yes", Points: 10},
		}},
			lead.Profile{Email: "ada@gmail.com", Title: "cto", Fields: map[string]string{"department": "Engineering", "employees": "1,200", "revenue": "9", "bant_authority": "yes"}}, 0, nil,
			func(t *testing.T, s scoring.Score) {
				require.Equal(t, 15+5+10-20+10, s.Fit)
				require.Equal(t, -20, line(t, s, "fit:free-mail").Points)
				require.Equal(t, 10, line(t, s, "fit:employees in range").Points)
			}},
		{"half-life decay", scoring.Model{Events: map[lead.EventType]scoring.EventRule{lead.DemoRequest: {Points: 40, Axis: scoring.Intent}},
			Decay: &scoring.Decay{HalfLife: "30d"}},
			lead.Profile{}, 60 * day, []at{{0, ev(lead.DemoRequest)}},
			func(t *testing.T, s scoring.Score) {
				require.Equal(t, 10, s.Intent, "two half-lives: a quarter")
				require.Equal(t, scoring.Line{Rule: "event:demo_request", Axis: scoring.Intent, Count: 1, Points: 40, Decayed: 10}, line(t, s, "event:demo_request"))
			}},
		{"step-down decay", scoring.Model{Events: map[lead.EventType]scoring.EventRule{lead.WebinarSignup: {Points: 20, Axis: scoring.Interest}},
			Decay: &scoring.Decay{Every: "30d", Percent: 50}},
			lead.Profile{}, 59 * day, []at{{0, ev(lead.WebinarSignup)}},
			func(t *testing.T, s scoring.Score) { require.Equal(t, 10, s.Interest, "one full period: half") }},
		{"grades", scoring.Model{
			Events: map[lead.EventType]scoring.EventRule{lead.DemoRequest: {Points: 40, Axis: scoring.Intent}},
			Fit:    []scoring.FitRule{{Field: "title", Equals: "CTO", Points: 30}},
			Grades: &scoring.Grades{
				Fit:        []scoring.Grade{{Name: "A", AtLeast: 40}, {Name: "B", AtLeast: 25}, {Name: "C", AtLeast: 10}},
				Engagement: []scoring.Grade{{Name: "1", AtLeast: 80}, {Name: "2", AtLeast: 40}, {Name: "3", AtLeast: 10}},
			}},
			lead.Profile{Title: "CTO"}, 0, []at{{0, ev(lead.DemoRequest)}},
			func(t *testing.T, s scoring.Score) {
				require.Equal(t, "B", s.FitGrade)
				require.Equal(t, "2", s.EngagementGrade)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, score(tt.model, tt.p, tt.when, tt.evs...))
		})
	}
}

func TestAdjustAndReset(t *testing.T) {
	t.Parallel()
	m := scoring.Model{Events: classic.Events, Decay: &scoring.Decay{HalfLife: "7d"}}
	var s scoring.State
	m.Apply(&s, ev(lead.WebinarSignup), t0)
	s.Adjust("step:call-went-well", 15)
	sc := m.Score(s, lead.Profile{}, t0.Add(70*day))
	require.Equal(t, 15, sc.Adjusted, "adjustments do not decay")
	require.Equal(t, 0, sc.Interest)
	s.ResetBehaviour()
	require.Equal(t, 0, m.Score(s, lead.Profile{}, t0).Total())
}

// rich is a model with every kind of rule, for the property tests.
var rich = scoring.Model{
	Events: map[lead.EventType]scoring.EventRule{
		lead.PageView:           {Points: 1, Axis: scoring.Interest, Cap: &scoring.Cap{Max: 5, Per: "1w"}},
		lead.EmailOpen:          {Points: 2, Axis: scoring.Interest, Repeat: &scoring.Repeat{After: 3, Points: 0}},
		lead.WebinarAttended:    {Points: 25, Axis: scoring.Interest},
		lead.PricingPageView:    {Points: 15, Axis: scoring.Intent},
		lead.DemoRequest:        {Points: 40, Axis: scoring.Intent},
		lead.NotInterested:      {Points: -30, Axis: scoring.Interest},
		lead.WhitepaperDownload: {Points: 15, Axis: scoring.Interest, Properties: []scoring.PropertyRule{{Name: "asset", Equals: "buying-guide", Points: 25}}},
	},
	Combos: []scoring.Combo{{Name: "c", All: []lead.EventType{lead.WebinarAttended, lead.PricingPageView}, Within: "7d", Points: 20, Axis: scoring.Intent}},
	Decay:  &scoring.Decay{HalfLife: "30d"},
}

var richTypes = []lead.EventType{lead.PageView, lead.EmailOpen, lead.WebinarAttended, lead.PricingPageView, lead.DemoRequest, lead.NotInterested, lead.WhitepaperDownload}

func randomEvents(r *rand.Rand, n int) []at {
	out := make([]at, n)
	t := time.Duration(0)
	for i := range out {
		t += time.Duration(r.Intn(72)) * time.Hour
		out[i] = at{t, ev(richTypes[r.Intn(len(richTypes))], "asset", []string{"buying-guide", "report"}[r.Intn(2)])}
	}
	return out
}

// A later event never changes the points an earlier one gave: the lines of
// the earlier events are only ever added to.
func TestLaterEventsDoNotChangeEarlierPoints(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(7))
	for range 200 {
		evs := randomEvents(r, 30)
		var s scoring.State
		given := make([]int, len(evs))
		for i, e := range evs {
			given[i] = rich.Apply(&s, e.event, t0.Add(e.after))
		}
		// Replaying a prefix gives the same points for it.
		k := r.Intn(len(evs))
		var prefix scoring.State
		for i, e := range evs[:k] {
			require.Equal(t, given[i], rich.Apply(&prefix, e.event, t0.Add(e.after)))
		}
	}
}

func TestDecayIsMonotone(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(11))
	pos := scoring.Model{Events: map[lead.EventType]scoring.EventRule{}, Decay: rich.Decay}
	for typ, rule := range rich.Events {
		if rule.Points > 0 {
			rule.Repeat = nil
			pos.Events[typ] = rule
		}
	}
	for range 100 {
		evs := randomEvents(r, 20)
		var s scoring.State
		for _, e := range evs {
			pos.Apply(&s, e.event, t0.Add(e.after))
		}
		last := evs[len(evs)-1].after
		start := pos.Score(s, lead.Profile{}, t0.Add(last)).Behaviour()
		prev := start
		for d := 1; d < 200; d += 7 {
			now := pos.Score(s, lead.Profile{}, t0.Add(last+time.Duration(d)*day)).Behaviour()
			require.LessOrEqual(t, now, prev, "a score never grows while the lead is quiet")
			prev = now
		}
		require.LessOrEqual(t, prev, start/64+len(evs), "after six half-lives, less than 1/64 is left (plus rounding)")
	}
}

func TestOrderOfSimultaneousEventsDoesNotMatter(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(3))
	for range 200 {
		evs := randomEvents(r, 12)
		for i := range evs {
			evs[i].after = 5 * day // all at the same time
		}
		shuffled := append([]at(nil), evs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		a := score(rich, lead.Profile{}, 9*day, evs...)
		b := score(rich, lead.Profile{}, 9*day, shuffled...)
		require.Equal(t, a, b)
	}
}

// BenchmarkApply is the cost of rescoring a lead that already has 10,000
// events: apply one more and evaluate. go test ./scoring -bench Apply
func BenchmarkApply(b *testing.B) {
	for _, history := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			var s scoring.State
			evs := randomEvents(r, history+b.N)
			for _, e := range evs[:history] {
				rich.Apply(&s, e.event, t0.Add(e.after))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e := evs[history+i]
				rich.Apply(&s, e.event, t0.Add(e.after))
				_ = rich.Score(s, lead.Profile{}, t0.Add(e.after))
			}
		})
	}
}

// TestDecayCountsCalendarDays pins down what "a day" is for decay: whole
// UTC calendar days of journey time between the day of the event and
// today. A score so changes once a day, at midnight UTC, the same for every
// lead and every worker; an event late in the evening has aged a day by
// the next morning. (Before this was decided, a workflow test that started
// at the machine's clock failed between 23:00 and midnight.)
func TestDecayCountsCalendarDays(t *testing.T) {
	t.Parallel()
	m := scoring.Model{Events: classic.Events, Decay: &scoring.Decay{HalfLife: "1d"}}
	late := time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)
	early := time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC)
	worth := func(eventAt, now time.Time) int {
		var s scoring.State
		m.Apply(&s, ev(lead.DemoRequest), eventAt)
		return m.Score(s, lead.Profile{}, now).Intent
	}
	require.Equal(t, 40, worth(late, late.Add(29*time.Minute)), "the same day: full value")
	require.Equal(t, 20, worth(late, late.Add(31*time.Minute)), "one minute past midnight UTC: a day old")
	require.Equal(t, 40, worth(early, early.Add(23*time.Hour)), "23 hours later, the same day: full value")
	// The zone of the lead does not matter: journey time is absolute.
	berlin := time.FixedZone("CET", 3600)
	require.Equal(t, worth(late, late.Add(time.Hour)), worth(late.In(berlin), late.Add(time.Hour).In(berlin)))
}
