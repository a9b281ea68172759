package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

// BenchmarkScale measures nurture against Temporal itself, shape by shape:
// the same load through a bare workflow on the same embedded server in the
// same run (the floor), then through nurture, in rounds that alternate which
// goes first. Shapes:
//
//   - dense: two leads with 500 engagement events each (8 senders), so
//     signals batch into few workflow tasks;
//   - sparse: many running leads with two events each, 32 senders spread
//     over the leads, so nearly every signal is a workflow task of its own;
//   - enrol: a burst of enrolments; processed is the lead's first email at
//     the SMTP server (the floor: a workflow that sends one email from an
//     activity);
//   - herd: leads whose send moment is the same instant (a send window
//     opening for all); processed is each email at the SMTP server after
//     that instant.
//
// For engagement, processed is the lead's new score committed in PostgreSQL
// (seen by a LISTEN on a trigger's NOTIFY, so the probe costs no polling);
// the floor's workflow marks each event it counts in memory. Reported per
// shape: accepted/s and processed/s, request-to-processed p50/p99, CPU per
// event (this process, which holds the server, the worker and the load;
// and PostgreSQL's), and for engagement the history events and bytes each
// event added to the lead's workflow; then the ratio nurture/floor as min /
// median / max over the rounds. Send limits are off: the engine is measured,
// not the limit.
//
//	go test ./starter -run '^$' -bench Scale -benchtime 1x -timeout 90m
//
// NURTURE_BENCH_ROUNDS (3), NURTURE_BENCH_SHAPES (dense,sparse,enrol,herd),
// NURTURE_BENCH_ENROL (1000 leads), NURTURE_BENCH_HERD (2000 leads), and
// NURTURE_BENCH_TEMPORAL=postgres for a Temporal server persisted to the
// local PostgreSQL (database nurture_bench_temporal, made afresh) instead of
// the embedded SQLite one.
func BenchmarkScale(b *testing.B) {
	rounds := benchInt(b, "NURTURE_BENCH_ROUNDS", 3)
	names := strings.Split(cmpOr(os.Getenv("NURTURE_BENCH_SHAPES"), "dense,sparse,enrol,herd"), ",")
	for range b.N {
		h := newScaleHarness(b)
		results := map[string][][2]sideResult{}
		for round := range rounds {
			for _, name := range names {
				sh, ok := scaleShapes[name]
				if !ok {
					b.Fatalf("NURTURE_BENCH_SHAPES: no shape %q (dense, sparse, enrol, herd)", name)
				}
				var pair [2]sideResult
				order := []int{0, 1}
				if round%2 == 1 {
					order = []int{1, 0}
				}
				for _, side := range order {
					stop := profile(b, fmt.Sprintf("%s-%s-%d", name, sideName(side == 1), round+1))
					pair[side] = sh(b, h, side == 1, round)
					stop()
					h.settle(b)
				}
				// Printed, not logged: the testing package cuts a
				// benchmark's log short.
				fmt.Printf("round %d %s: floor %s | nurture %s\n", round+1, name, pair[0], pair[1])
				results[name] = append(results[name], pair)
			}
		}
		for _, name := range names {
			reportShape(b, name, results[name])
		}
	}
}

// profile writes a CPU profile of what follows to
// $NURTURE_BENCH_PROFILE/name.prof, when that is set; the returned
// function stops it.
func profile(b *testing.B, name string) func() {
	dir := os.Getenv("NURTURE_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".prof"))
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, f.Close())
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sideResult is what one side (floor or nurture) measured of one shape.
type sideResult struct {
	// events are engagement events, or leads for enrol and herd.
	events int
	// accepted is how long the load took to be accepted, processed until
	// the last was processed; both from the start (for herd, from the
	// instant).
	accepted, processed time.Duration
	lat                 []time.Duration
	cpuSelf, cpuPG      time.Duration
	// histEvents and histBytes are what the events added to the leads'
	// histories (engagement shapes only).
	histEvents, histBytes int
}

func (r sideResult) acceptedPerSec() float64             { return float64(r.events) / r.accepted.Seconds() }
func (r sideResult) processedPerSec() float64            { return float64(r.events) / r.processed.Seconds() }
func (r sideResult) pct(p int) time.Duration             { return percentile(r.lat, p) }
func (r sideResult) cpuPerEvent(d time.Duration) float64 { return ms(d) / float64(r.events) }

func (r sideResult) String() string {
	s := fmt.Sprintf("%d in %.2fs: accepted %.0f/s, processed %.1f/s, p50 %s p99 %s, cpu %.2f ms + pg %.2f ms per event",
		r.events, r.processed.Seconds(), r.acceptedPerSec(), r.processedPerSec(),
		r.pct(50).Round(time.Millisecond), r.pct(99).Round(time.Millisecond), r.cpuPerEvent(r.cpuSelf), r.cpuPerEvent(r.cpuPG))
	if r.histEvents > 0 {
		s += fmt.Sprintf(", history %.2f events %.0f bytes per event", float64(r.histEvents)/float64(r.events), float64(r.histBytes)/float64(r.events))
	}
	return s
}

// reportShape logs a shape's table and reports the medians.
func reportShape(b *testing.B, name string, pairs [][2]sideResult) {
	type metric struct {
		name string
		of   func(sideResult) float64
	}
	metrics := []metric{
		{"accepted/s", sideResult.acceptedPerSec},
		{"processed/s", sideResult.processedPerSec},
		{"p50-ms", func(r sideResult) float64 { return ms(r.pct(50)) }},
		{"p99-ms", func(r sideResult) float64 { return ms(r.pct(99)) }},
		{"cpu-ms/event", func(r sideResult) float64 { return r.cpuPerEvent(r.cpuSelf) }},
		{"pg-cpu-ms/event", func(r sideResult) float64 { return r.cpuPerEvent(r.cpuPG) }},
		{"history-events/event", func(r sideResult) float64 { return float64(r.histEvents) / float64(r.events) }},
		{"history-bytes/event", func(r sideResult) float64 { return float64(r.histBytes) / float64(r.events) }},
	}
	var lines []string
	for _, m := range metrics {
		var floor, ours, ratio []float64
		for _, p := range pairs {
			f, o := m.of(p[0]), m.of(p[1])
			floor, ours, ratio = append(floor, f), append(ours, o), append(ratio, o/f)
		}
		if slices.Max(ours) == 0 && slices.Max(floor) == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s |", m.name, spread(floor), spread(ours), spread(ratio)))
		b.ReportMetric(median(ratio), name+"-"+m.name+"-ratio")
		b.ReportMetric(median(ours), name+"-nurture-"+m.name)
	}
	fmt.Printf("shape %s, %d rounds (min / median / max)\n| %s | floor | nurture | nurture / floor |\n| --- | --- | --- | --- |\n%s\n",
		name, len(pairs), name, strings.Join(lines, "\n"))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func spread(v []float64) string {
	f := func(x float64) string {
		switch {
		case x >= 100:
			return fmt.Sprintf("%.0f", x)
		case x >= 10:
			return fmt.Sprintf("%.1f", x)
		}
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%s / %s / %s", f(slices.Min(v)), f(median(v)), f(slices.Max(v)))
}

// scaleHarness is one system (nurture's worker with no send limits) and
// the floor's worker on the same server.
type scaleHarness struct {
	s *system
	// seen is when the floor's workflows counted each event, by ID.
	seen sync.Map
	// progress carries each lead's committed score, from NOTIFY.
	progress chan leadScore
	mail     *email.Sender
}

type leadScore struct {
	id    string
	score int
	at    time.Time
}

// The floor's workflows and activity, registered under these names.
const (
	bareLeadName  = "BareLead"
	bareSendName  = "BareSend"
	bareOnceName  = "BareOnce"
	bareQueueName = "bare"
)

// bareInput is what a floor workflow is started with: whom to mail and
// when (zero: at once).
type bareInput struct {
	Email string
	At    time.Time
}

func newScaleHarness(b *testing.B) *scaleHarness {
	b.Helper()
	h := &scaleHarness{progress: make(chan leadScore, 100000)}
	opts := []func(*system){}
	if os.Getenv("NURTURE_BENCH_TEMPORAL") == "postgres" {
		opts = append(opts, func(s *system) { s.temporalDB = "nurture_bench_temporal" })
	}
	h.s = startSystem(b, "", 1, opts...)
	var err error
	h.mail, err = email.New(email.Config{Host: h.s.sink.Host(), Port: h.s.sink.Port(), TLS: "none", From: "Floor <floor@acme.test>"})
	require.NoError(b, err)
	b.Cleanup(h.mail.Close)

	// The floor's pollers scale as nurture's do (journeyworker).
	autoscale := worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	bw := worker.New(h.s.client, bareQueueName, worker.Options{WorkflowTaskPollerBehavior: autoscale, ActivityTaskPollerBehavior: autoscale})
	bw.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.Input) error {
		seen := map[string]bool{}
		if !workflow.IsReplaying(ctx) {
			h.seen.Store(workflow.GetInfo(ctx).WorkflowExecution.ID, time.Now())
		}
		ch := workflow.GetSignalChannel(ctx, workflows.SignalEngagement)
		for {
			var ev lead.Event
			ch.Receive(ctx, &ev)
			if !seen[ev.ID] {
				seen[ev.ID] = true
				if !workflow.IsReplaying(ctx) {
					h.seen.Store(ev.ID, time.Now())
				}
			}
		}
	}, workflow.RegisterOptions{Name: bareLeadName})
	bw.RegisterWorkflowWithOptions(func(ctx workflow.Context, in bareInput) error {
		if wait := in.At.Sub(workflow.Now(ctx)); wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &sdktemporal.RetryPolicy{MaximumInterval: time.Minute}})
		return workflow.ExecuteActivity(ctx, bareSendName, in.Email).Get(ctx, nil)
	}, workflow.RegisterOptions{Name: bareOnceName})
	bw.RegisterActivityWithOptions(func(ctx context.Context, to string) error {
		return h.mail.Send(ctx, email.Message{To: to, Subject: "Hello", Text: "Hi."})
	}, activity.RegisterOptions{Name: bareSendName})
	require.NoError(b, bw.Start())
	b.Cleanup(bw.Stop)

	h.listen(b)
	return h
}

// listen sends every committed change of a lead's score to h.progress: a
// trigger NOTIFYs, a dedicated connection LISTENs.
func (h *scaleHarness) listen(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	channel := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	_, err := h.s.db.Exec(ctx, fmt.Sprintf(`
create function bench_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('%s', new.id || ' ' || new.score);
    return new;
end $$;
create trigger bench_notify after update of score on leads for each row
    when (old.score is distinct from new.score) execute function bench_notify();`, channel))
	require.NoError(b, err)
	conn, err := h.s.db.Acquire(ctx)
	require.NoError(b, err)
	_, err = conn.Exec(ctx, "listen "+channel)
	require.NoError(b, err)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.Conn().WaitForNotification(lctx)
			if err != nil {
				return
			}
			id, score, _ := strings.Cut(n.Payload, " ")
			var v int
			_, _ = fmt.Sscan(score, &v)
			h.progress <- leadScore{id: id, score: v, at: time.Now()}
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		conn.Release()
	})
}

// settle lets the server finish what the last side left (timers,
// visibility) before the next side starts.
func (h *scaleHarness) settle(b *testing.B) {
	b.Helper()
	time.Sleep(2 * time.Second)
	for {
		select {
		case <-h.progress:
			continue
		default:
		}
		return
	}
}

// scaleShapes run one side (nurture when ours) of a shape.
var scaleShapes = map[string]func(b *testing.B, h *scaleHarness, ours bool, round int) sideResult{
	"dense": func(b *testing.B, h *scaleHarness, ours bool, round int) sideResult {
		return h.engagement(b, ours, round, 2, 500, 8)
	},
	"sparse": func(b *testing.B, h *scaleHarness, ours bool, round int) sideResult {
		return h.engagement(b, ours, round, 500, 2, 32)
	},
	"enrol": func(b *testing.B, h *scaleHarness, ours bool, round int) sideResult {
		return h.firstEmails(b, ours, round, benchInt(b, "NURTURE_BENCH_ENROL", 1000), false)
	},
	"herd": func(b *testing.B, h *scaleHarness, ours bool, round int) sideResult {
		return h.firstEmails(b, ours, round, benchInt(b, "NURTURE_BENCH_HERD", 2000), true)
	},
}

// engagement sends each of n leads `each` case-study views (5 points each
// in the shipped model, no cap, so the score counts them) from `senders`
// goroutines, lead after lead so that consecutive events go to different
// leads, and waits until every one is processed.
func (h *scaleHarness) engagement(b *testing.B, ours bool, round, n, each, senders int) sideResult {
	b.Helper()
	ctx := context.Background()
	side := sideName(ours)
	prefix := fmt.Sprintf("%s-r%d-%d", side, round, n)
	leads := h.enrolWaiting(b, ours, prefix, n)
	before := h.histories(b, ours, leads)
	// The score a lead starts with is its fit; every event adds 5.
	fit := map[string]int{}
	if ours {
		for _, l := range leads {
			fit[l.ID] = h.score(b, l.ID)
		}
	}

	type job struct {
		l  lead.Profile
		ev lead.Event
	}
	// Per lead, when each of its events was sent, in order of sending.
	var mu sync.Mutex
	sentAt := map[string][]time.Time{}
	jobs := make(chan job)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	cpu0 := readCPU(b)
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for j := range jobs {
				t0 := time.Now()
				if err := h.send(ctx, ours, j.l, j.ev); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				sentAt[j.l.ID] = append(sentAt[j.l.ID], t0)
				mu.Unlock()
			}
		})
	}
	for k := range each {
		for _, l := range leads {
			jobs <- job{l, lead.Event{ID: fmt.Sprintf("%s-%s-%d", prefix, l.ID, k), LeadID: l.ID, Type: benchEvent, OccurredAt: time.Now().UTC()}}
		}
	}
	close(jobs)
	wg.Wait()
	accepted := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(b, err, side)
	}

	// done[lead] are the times its events were processed, in order.
	done := map[string][]time.Time{}
	total := n * each
	count := 0
	deadline := time.After(10 * time.Minute)
	if ours {
		got := map[string]int{}
		for _, l := range leads {
			got[l.ID] = 0
		}
		for count < total {
			select {
			case p := <-h.progress:
				if _, mine := got[p.id]; !mine {
					continue
				}
				for got[p.id] < (p.score-fit[p.id])/5 {
					got[p.id]++
					done[p.id] = append(done[p.id], p.at)
					count++
				}
			case <-deadline:
				b.Fatalf("%s: %d of %d events processed after 10 minutes", side, count, total)
			}
		}
	} else {
		for count < total {
			count = 0
			for _, l := range leads {
				var ts []time.Time
				for k := range each {
					if v, ok := h.seen.Load(fmt.Sprintf("%s-%s-%d", prefix, l.ID, k)); ok {
						ts = append(ts, v.(time.Time))
					}
				}
				slices.SortFunc(ts, time.Time.Compare)
				done[l.ID] = ts
				count += len(ts)
			}
			if count < total {
				select {
				case <-deadline:
					b.Fatalf("%s: %d of %d events processed after 10 minutes", side, count, total)
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}
	r := sideResult{events: total, accepted: accepted}
	cpu := readCPU(b).since(cpu0)
	r.cpuSelf, r.cpuPG = cpu.self, cpu.pg
	var last time.Time
	for _, l := range leads {
		sent, proc := sentAt[l.ID], done[l.ID]
		slices.SortFunc(sent, time.Time.Compare)
		for k := range sent {
			r.lat = append(r.lat, max(proc[k].Sub(sent[k]), 0))
			if proc[k].After(last) {
				last = proc[k]
			}
		}
	}
	r.processed = last.Sub(start)
	after := h.histories(b, ours, leads)
	fmt.Printf("%s %s: the first lead's history by event type: %s\n", side, prefix, h.historyKinds(b, ours, leads[0]))
	for i := range leads {
		r.histEvents += after[i].events - before[i].events
		r.histBytes += after[i].bytes - before[i].bytes
	}
	return r
}

// sideName names a side in lead addresses and logs.
func sideName(ours bool) string {
	if ours {
		return "nurture"
	}
	return "floor"
}

// send delivers one engagement event: through nurture's edge, or as a bare
// signal to the floor's workflow (nurture's edge signals too: the lead's
// workflow runs from its enrolment).
func (h *scaleHarness) send(ctx context.Context, ours bool, l lead.Profile, ev lead.Event) error {
	if ours {
		_, err := h.s.intake.Record(ctx, ev)
		return err
	}
	return h.s.client.SignalWorkflow(ctx, "bare-"+l.ID, "", workflows.SignalEngagement, ev)
}

func (h *scaleHarness) score(b *testing.B, id string) int {
	var score int
	require.NoError(b, h.s.db.QueryRow(context.Background(), `select score from leads where id = $1`, id).Scan(&score))
	return score
}

// enrolWaiting makes n leads that wait for engagement: for nurture,
// enrolled in the shipped journey and past their first email (in its
// 3-day wait); for the floor, the bare workflow started.
func (h *scaleHarness) enrolWaiting(b *testing.B, ours bool, prefix string, n int) []lead.Profile {
	b.Helper()
	ctx := context.Background()
	leads := make([]lead.Profile, n)
	before := len(h.s.sink.Messages())
	err := fanOut(8, n, func(i int) error {
		p := lead.Profile{Email: fmt.Sprintf("%s-%d@load.test", prefix, i)}
		if ours {
			res, err := h.s.intake.Enroll(ctx, p, "", "")
			leads[i] = res.Profile
			return err
		}
		if err := p.Normalize(); err != nil {
			return err
		}
		leads[i] = p
		_, err := h.s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bare-" + p.ID, TaskQueue: bareQueueName},
			bareLeadName, workflows.Input{Lead: p})
		return err
	})
	require.NoError(b, err)
	if ours {
		h.awaitMail(b, before+n, 10*time.Minute)
		// The first email's send is followed by the wait's own progress.
		time.Sleep(time.Second)
		return leads
	}
	// The floor's workflows mark their first task.
	for _, l := range leads {
		for {
			if _, ok := h.seen.Load("bare-" + l.ID); ok {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return leads
}

// awaitMail waits until the sink holds want messages.
func (h *scaleHarness) awaitMail(b *testing.B, want int, within time.Duration) {
	b.Helper()
	deadline := time.Now().Add(within)
	for len(h.s.sink.Messages()) < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d emails after %s", len(h.s.sink.Messages()), want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type historySize struct{ events, bytes int }

// historyKinds counts a lead's history events by type.
func (h *scaleHarness) historyKinds(b *testing.B, ours bool, l lead.Profile) string {
	id := "bare-" + l.ID
	if ours {
		id = workflows.WorkflowID(l.ID)
	}
	kinds := map[string]int{}
	it := h.s.client.GetWorkflowHistory(context.Background(), id, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(b, err)
		kinds[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		out = append(out, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	return strings.Join(out, ", ")
}

// histories measures the leads' workflow histories (none yet: zero).
func (h *scaleHarness) histories(b *testing.B, ours bool, leads []lead.Profile) []historySize {
	b.Helper()
	out := make([]historySize, len(leads))
	// A sample is enough for the sparse shape's many leads.
	step := max(1, len(leads)/50)
	for i := 0; i < len(leads); i += step {
		id := "bare-" + leads[i].ID
		if ours {
			id = workflows.WorkflowID(leads[i].ID)
		}
		if _, err := h.s.client.DescribeWorkflowExecution(context.Background(), id, ""); err != nil {
			continue
		}
		e, by := historyCost(b, context.Background(), h.s.client, id)
		out[i] = historySize{e * step, by * step}
	}
	return out
}

// firstEmails enrols n leads from 8 senders and waits for each one's first
// email at the SMTP server. For the herd, every lead's email is due at one
// instant after the enrolment; its time counts from that instant.
func (h *scaleHarness) firstEmails(b *testing.B, ours bool, round, n int, herd bool) sideResult {
	b.Helper()
	ctx := context.Background()
	side := sideName(ours)
	prefix := fmt.Sprintf("%s-r%d-%s%d", side, round, map[bool]string{true: "herd", false: "enrol"}[herd], n)
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("%s-%d@co%02d.test", prefix, i, i%100)
	}
	var open time.Time
	journeyID := ""
	if herd {
		// Enrolment runs at 70-100 leads a second here; the instant
		// leaves room for half that.
		open = time.Now().Add(time.Duration(n/40)*time.Second + 10*time.Second).Truncate(time.Second)
		if ours {
			journeyID = strings.ReplaceAll(prefix, "-", "_")
			publishBurstJourney(b, ctx, h.s.db, journeyID, open)
		}
	}
	before := len(h.s.sink.Messages())
	cpu0 := readCPU(b)
	start := time.Now()
	sentAt := make([]time.Time, n)
	err := fanOut(8, n, func(i int) error {
		sentAt[i] = time.Now()
		if ours {
			_, err := h.s.intake.Enroll(ctx, lead.Profile{Email: addrs[i], FirstName: "Lead"}, journeyID, "")
			return err
		}
		_, err := h.s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bare-" + addrs[i], TaskQueue: bareQueueName},
			bareOnceName, bareInput{Email: addrs[i], At: open})
		return err
	})
	accepted := time.Since(start)
	require.NoError(b, err, side)
	if herd && time.Now().After(open) {
		b.Logf("%s: enrolment ended %s after the instant; raise the room left for it", side, time.Since(open).Round(time.Millisecond))
	}
	h.awaitMail(b, before+n, 30*time.Minute)
	cpu := readCPU(b).since(cpu0)

	index := map[string]int{}
	for i, a := range addrs {
		index[a] = i
	}
	r := sideResult{events: n, accepted: accepted, cpuSelf: cpu.self, cpuPG: cpu.pg}
	var last time.Time
	for _, m := range h.s.sink.Messages()[before:] {
		i, ok := index[m.To[0]]
		if !ok {
			continue
		}
		from := sentAt[i]
		if herd {
			from = open
		}
		r.lat = append(r.lat, m.Received.Sub(from))
		if m.Received.After(last) {
			last = m.Received
		}
	}
	require.Len(b, r.lat, n, "%s: one first email per lead", side)
	if herd {
		// The herd's rate is from the instant: how fast the window's
		// emails drain once it opens.
		r.processed = last.Sub(open)
		r.accepted = accepted
	} else {
		r.processed = last.Sub(start)
	}
	return r
}

// cpuTimes are CPU times used so far: by this process, and by PostgreSQL's
// processes.
type cpuTimes struct{ self, pg time.Duration }

func (c cpuTimes) since(o cpuTimes) cpuTimes { return cpuTimes{c.self - o.self, c.pg - o.pg} }

func readCPU(b *testing.B) cpuTimes {
	b.Helper()
	self, err := procCPU("self")
	require.NoError(b, err)
	var pg time.Duration
	dirs, err := os.ReadDir("/proc")
	require.NoError(b, err)
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		comm, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if t, err := procCPU(d.Name()); err == nil {
			pg += t
		}
	}
	return cpuTimes{self: self, pg: pg}
}

// procCPU reads a process's user and system time from /proc/PID/stat.
func procCPU(pid string) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(fields[12], &stime); err != nil {
		return 0, err
	}
	// Clock ticks are 1/100 s on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
