package faults_test

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/tcpproxy"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// A journey hour lasts a real second in these tests.
const hourPerSecond = 3600

const suiteTimeout = 6 * time.Minute

func TestFaultWorkerKilledDuringSends(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	h := newHarness(t, ctx, harnessOptions{faults: smtpsink.Faults{Latency: 200 * time.Millisecond}, scale: hourPerSecond})
	w := h.startWorkerProcess()
	h.enroll(40)
	go h.answerHandoffs(ctx)
	for range 6 {
		time.Sleep(2500 * time.Millisecond)
		w.kill()
		time.Sleep(300 * time.Millisecond)
		w = h.startWorkerProcess()
	}
	h.awaitClosed(4 * time.Minute)
	f := h.count("worker killed with SIGKILL 6 times while sending (SMTP replies 200 ms late)", true)
	report(t, f)
	promise(t, f)
}

func TestFaultSMTPDropsItsReply(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	var n, dropped atomic.Int32
	h := newHarness(t, ctx, harnessOptions{scale: hourPerSecond, faults: smtpsink.Faults{DropReply: func(smtpsink.Message) bool {
		if n.Add(1)%7 == 0 {
			dropped.Add(1)
			return true
		}
		return false
	}}})
	h.startWorker()
	h.enroll(30)
	go h.answerHandoffs(ctx)
	h.awaitClosed(3 * time.Minute)
	f := h.count("SMTP server receives the message and drops its reply (1 in 7)", true)
	report(t, f)
	promise(t, f)
	require.Equal(t, int(dropped.Load()), f.ambiguous, "every lost reply, and only those, is ambiguous")
	require.Equal(t, f.ambiguous, f.ambiguousArrived)
}

func TestFaultPostgresUnreachable(t *testing.T) {
	t.Parallel()
	dependencyAway(t, "PostgreSQL", func(h *harness) *tcpproxy.Proxy { return h.pgProxy })
}

func TestFaultSMTPUnreachable(t *testing.T) {
	t.Parallel()
	dependencyAway(t, "SMTP server", func(h *harness) *tcpproxy.Proxy { return h.smtpProxy })
}

// dependencyAway cuts the proxy in front of a dependency for 65 s, longer
// than any retry interval, while journeys run.
func dependencyAway(t *testing.T, name string, proxy func(*harness) *tcpproxy.Proxy) {
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	h := newHarness(t, ctx, harnessOptions{scale: hourPerSecond})
	h.startWorker()
	h.enroll(40)
	go h.answerHandoffs(ctx)
	time.Sleep(1500 * time.Millisecond)
	proxy(h).Cut()
	time.Sleep(65 * time.Second)
	require.NoError(t, proxy(h).Restore())
	back := time.Now()
	h.awaitClosed(4 * time.Minute)
	f := h.count(fmt.Sprintf("%s unreachable for 65 s (a TCP proxy cut); every journey ended %.0f s after it was back", name, time.Since(back).Seconds()), true)
	report(t, f)
	promise(t, f)
}

// temporalProcess is an embedded Temporal server in a process of its own
// (this test binary, see TestMain), so it can be killed for real.
type temporalProcess struct {
	cmd  *exec.Cmd
	addr string
}

func startTemporalProcess(t *testing.T, dbFile string, port int) *temporalProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envServeTemporal+"="+dbFile, envServePort+"="+strconv.Itoa(port))
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	p := &temporalProcess{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return p
		}
		require.True(t, time.Now().Before(deadline), "temporal server process did not start: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *temporalProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestFaultTemporalServerKilled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	port := freePort(t)
	srv := startTemporalProcess(t, dbFile, port)
	h := newHarness(t, ctx, harnessOptions{scale: hourPerSecond, temporal: srv.addr})
	h.startWorker()
	h.enroll(30)
	go h.answerHandoffs(ctx)

	// Engagement pours in all along, retried while the server is down, as
	// webhook senders retry a 503.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var events atomic.Int32
	for s := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(s)))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				l := h.leads[r.Intn(len(h.leads))]
				ev := lead.Event{ID: fmt.Sprintf("ev-%d-%d", s, n), LeadID: l.ID, Type: lead.CaseStudyView, OccurredAt: time.Now().UTC()}
				for {
					if _, err := h.intake.Record(ctx, ev); err == nil || ctx.Err() != nil {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				events.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	for range 2 {
		time.Sleep(3 * time.Second)
		srv.kill()
		time.Sleep(time.Second)
		srv = startTemporalProcess(t, dbFile, port)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	h.awaitClosed(4 * time.Minute)
	f := h.count(fmt.Sprintf("Temporal server killed with SIGKILL twice and restarted, %d events arriving", events.Load()), true)
	report(t, f)
	promise(t, f)
}

// raceJourney ends one journey hour after its only email, however the
// lead engages; a page view would enrol a lead that was never in it.
const raceJourney = `id: fault-race
name: Events racing the end
scoring:
  mql: 100
  events:
    page_view: {points: 1, axis: interest}
handoff:
  min_score: 1000
entry:
  - {event: page_view}
content:
  - {id: c1, stage: one, subject: "Hello {{.FirstName}}", text: "Hi. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - {id: s1, send: c1}
      - id: listen
        wait_for: {events: [email_click], timeout: 1h}
      - {id: bye, exit: done}
`

// TestFaultEventsRaceTheEnd is defect 2 of issue 7: an event arriving as
// its lead's journey ended started the journey again, and the first email
// went out twice.
func TestFaultEventsRaceTheEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	h := newHarness(t, ctx, harnessOptions{journey: raceJourney, scale: hourPerSecond})
	h.startWorker()
	runs := map[string]string{}
	for i := range 40 {
		res, err := h.intake.Enroll(ctx, lead.Profile{Email: fmt.Sprintf("racer-%02d@fault.test", i)}, "", "")
		require.NoError(t, err)
		h.leads = append(h.leads, res.Profile)
		h.expected[res.Profile.ID] = []string{"c1"}
		runs[res.Profile.ID] = res.RunID
	}
	// Once a lead's email has arrived, its journey ends about a second
	// later. Page views come every 50 ms from then on, across the end,
	// until three of them have been told the journey ended.
	var mu sync.Mutex
	delivered, ended := 0, 0
	sent := map[string]int{}
	var wg sync.WaitGroup
	for _, l := range h.leads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.sink.Wait(ctx, func([]smtpsink.Message) bool { return len(h.sink.To(l.Email)) > 0 }); err != nil {
				t.Error(err)
				return
			}
			after := 0
			for n := 0; after < 3 && n < 200; n++ {
				time.Sleep(50 * time.Millisecond)
				rec, err := h.intake.Record(ctx, lead.Event{ID: fmt.Sprintf("pv-%d", n), LeadID: l.ID, Type: lead.PageView, OccurredAt: time.Now().UTC()})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sent[l.ID]++
				switch {
				case rec.Delivered:
					delivered++
				case strings.HasPrefix(rec.Why, "journey ended"):
					ended++
					after++
				default:
					t.Errorf("event not delivered for another reason: %s", rec.Why)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	h.awaitClosed(time.Minute)
	restarted := 0
	for _, l := range h.leads {
		d, err := h.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(l.ID), "")
		require.NoError(t, err)
		if d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != runs[l.ID] {
			restarted++
		}
		n, err := store.CountEvents(ctx, h.db, l.ID)
		require.NoError(t, err)
		require.Equal(t, sent[l.ID], n, "every event is stored, delivered or not")
	}
	f := h.count(fmt.Sprintf("events racing their journey's end (%d delivered, %d after the end)", delivered, ended), false)
	report(t, f)
	promise(t, f)
	require.Zero(t, restarted, "journeys started again by an event")
}
