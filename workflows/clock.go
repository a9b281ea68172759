package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/zones"
)

// The journey clock. Journey time is workflow time sped up by the time
// scale from the enrolment on (the demo runs a day a second); every
// duration, date and send window in a journey is in journey time, and every
// timer in workflow time. Neither ever reads the wall clock.

func (r *run) journeyNow() time.Time {
	now := workflow.Now(r.ctx)
	if r.st.TimeScale <= 1 {
		return now
	}
	anchor := time.UnixMilli(r.st.StartedAt)
	return anchor.Add(time.Duration(float64(now.Sub(anchor)) * r.st.TimeScale))
}

// scaled turns a span of journey time into workflow time.
func (r *run) scaled(d time.Duration) time.Duration {
	if d <= 0 || r.st.TimeScale <= 1 {
		return max(d, 0)
	}
	return max(time.Duration(float64(d)/r.st.TimeScale), time.Millisecond)
}

// realAt is the workflow time at which a journey time comes.
func (r *run) realAt(journeyTime time.Time) time.Time {
	return workflow.Now(r.ctx).Add(r.scaled(journeyTime.Sub(r.journeyNow())))
}

// location is the lead's time zone, else the journey's, else UTC.
func (r *run) location() *time.Location { return zones.First(r.st.Lead.TimeZone, r.j.TimeZone) }

// endsAt is the journey time at which max_duration ends the journey; zero
// when it has none.
func (r *run) endsAt() time.Time {
	if r.j.MaxDuration == "" {
		return time.Time{}
	}
	return time.UnixMilli(r.st.StartedAt).Add(r.j.MaxDuration.Value())
}

func (r *run) overdue() bool {
	end := r.endsAt()
	return !end.IsZero() && !r.journeyNow().Before(end)
}

// sendAllowedAt is the first journey time at which the next email may go:
// under the frequency cap and inside the send window.
func (r *run) sendAllowedAt() time.Time {
	at := r.journeyNow()
	if c := r.j.FrequencyCap; c != nil && c.Max > 0 && len(r.st.RecentSends) >= c.Max {
		oldest := time.UnixMilli(r.st.RecentSends[len(r.st.RecentSends)-c.Max])
		if free := oldest.Add(c.Per.Value()); free.After(at) {
			at = free
		}
	}
	return r.j.SendWindow.NextOpen(at.In(r.location()))
}

// keptSends is how many of a lead's latest emails the frequency cap
// remembers at least, whatever this journey's cap: the journey a recycle
// leads to may have a cap of its own, which counts them too.
const keptSends = 20

// sent remembers an email for the frequency cap. The cap reads only the
// latest Max, so keeping more changes no decision of a journey already
// running.
func (r *run) sent() {
	keep := keptSends
	if c := r.j.FrequencyCap; c != nil && c.Max > keep {
		keep = c.Max
	}
	r.st.RecentSends = append(r.st.RecentSends, r.journeyNow().UnixMilli())
	if len(r.st.RecentSends) > keep {
		r.st.RecentSends = append([]int64(nil), r.st.RecentSends[len(r.st.RecentSends)-keep:]...)
	}
}

// waitResult says what ended a wait: an event in want, a task outcome, or
// (both empty) the deadline or a change of lifecycle.
type waitResult struct {
	event   lead.EventType
	outcome string
	// interrupted is set when the lead left nurture during the wait (a
	// hand-off, an exit) rather than the wait ending.
	interrupted bool
}

// wait waits until the workflow time deadline() (computed once per step and
// kept in the state, so a run continued as new waits only for what is left,
// and never past max_duration), until an event in want arrives, or, for a
// task, until its outcome is reported. Engagement is handled as it comes; a
// hand-off or exit ends the wait early.
func (r *run) wait(deadline func() time.Time, want []lead.EventType, task bool) (waitResult, error) {
	if r.st.WaitUntil == 0 {
		r.st.WaitUntil = r.clipped(deadline()).UnixMilli()
	}
	until := time.UnixMilli(r.st.WaitUntil)
	if got := r.st.Matched; got != "" && contains(want, got) {
		r.st.Matched = ""
		return waitResult{event: got}, nil
	}
	r.st.Matched = ""
	var timer *waitTimer
	defer func() { timer.stop() }()
	for {
		got, err := r.handleMessagesFor(want)
		if err == nil && r.migrated {
			// An event this wait wanted, taken in the same batch, is kept
			// for the step the lead moved to.
			if got != "" {
				r.st.Matched = got
			}
			return waitResult{}, errMigrated
		}
		if err != nil || got != "" || !r.st.active() {
			return waitResult{event: got, interrupted: got == "" && !r.st.active()}, err
		}
		if task && r.st.TaskResult != "" {
			return waitResult{outcome: r.st.TaskResult}, nil
		}
		if r.canSuggested() {
			return waitResult{}, errContinueAsNew
		}
		left := until.Sub(workflow.Now(r.ctx))
		if left <= 0 {
			return waitResult{}, nil
		}
		if !r.has(versionOneTimer) {
			// Recorded before versionOneTimer: a fresh timer on every
			// wake-up, the earlier ones left pending.
			if _, err := workflow.AwaitWithTimeout(r.ctx, left, func() bool { return r.hasMessages() || r.canSuggested() }); err != nil {
				return waitResult{}, err
			}
			continue
		}
		if timer == nil {
			timer = r.startTimer(left)
		}
		if err := workflow.Await(r.ctx, func() bool { return timer.fired() || r.hasMessages() || r.canSuggested() }); err != nil {
			return waitResult{}, err
		}
		if timer.fired() && !r.hasMessages() {
			return waitResult{}, nil
		}
	}
}

// versionOneTimer guards the wait's single timer. Before it, every
// engagement event during a timed wait started one more timer and left the
// earlier ones pending, all firing together at the deadline: three history
// events per event (started, fired, and a share of the task that took the
// firing) for nothing.
const versionOneTimer = "one-timer-per-wait"

// waitTimer is a wait's one timer, cancelled when the wait ends before it
// fires, so no timer outlives its wait.
type waitTimer struct {
	f      workflow.Future
	cancel workflow.CancelFunc
}

func (r *run) startTimer(d time.Duration) *waitTimer {
	ctx, cancel := workflow.WithCancel(r.ctx)
	return &waitTimer{f: workflow.NewTimer(ctx, d), cancel: cancel}
}

func (t *waitTimer) fired() bool { return t.f.IsReady() }

// stop cancels the timer unless it fired; nil is a wait that started none.
func (t *waitTimer) stop() {
	if t != nil && !t.f.IsReady() {
		t.cancel()
	}
}

// clipped is a wait's deadline d (workflow time), brought forward to when
// max_duration ends the journey.
func (r *run) clipped(d time.Time) time.Time {
	if end := r.endsAt(); !end.IsZero() {
		if e := r.realAt(end); e.Before(d) {
			return e
		}
	}
	return d
}

// after is a deadline d of journey time from now.
func (r *run) after(d time.Duration) func() time.Time {
	return func() time.Time { return workflow.Now(r.ctx).Add(r.scaled(d)) }
}
