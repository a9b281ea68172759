package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/timeline"
	"github.com/nurture-dev/nurture/workflows"
)

// play feeds one lead its scripted engagement at the scripted journey days,
// and answers its hand-offs as sales would.
func (d *demo) play(ctx context.Context, out *printer, runID string, l *demoLead) error {
	for n, s := range l.script {
		if err := sleepUntil(ctx, d.at(s.day)); err != nil {
			return nil
		}
		if err := d.engage(ctx, out, fmt.Sprintf("demo-%s-%s-%d", runID, l.profile.ID[:8], n), l, s.typ); err != nil {
			return fmt.Errorf("%s for %s: %w", s.typ, l.profile.Email, err)
		}
	}
	if l.verdict == "" {
		return nil
	}
	// Sales answers a journey day after the hand-off.
	var handoff int64
	for {
		st, err := workflows.QueryLead(ctx, d.c, l.profile.ID)
		if err == nil && st.Lifecycle == workflows.LifecycleHandedOff {
			handoff = st.HandoffID
			break
		}
		if err == nil && st.Lifecycle == workflows.LifecycleExited {
			return nil
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return nil
		}
	}
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(float64(day)/d.scale))); err != nil {
		return nil
	}
	if err := d.verdictByEmail(ctx, out, l, handoff); err != nil {
		return fmt.Errorf("verdict for %s: %w", l.profile.Email, err)
	}
	out.line(d.day(), "SALES", l.profile.Email, fmt.Sprintf("verdict %s: %s", l.verdict, l.reason))
	if l.task == "" {
		return nil
	}
	// A rep does the task the journey gives (a check-in call) a day later.
	var task store.Task
	for {
		t, err := store.OpenTask(ctx, d.db, l.profile.ID)
		if err == nil {
			task = t
			break
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return nil
		}
	}
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(float64(day)/d.scale))); err != nil {
		return nil
	}
	if _, err := workflows.SendTaskOutcome(ctx, d.c, l.profile.ID, workflows.TaskOutcome{TaskID: task.ID, Outcome: l.task}); err != nil {
		return fmt.Errorf("task outcome for %s: %w", l.profile.Email, err)
	}
	out.line(d.day(), "TASK", l.profile.Email, fmt.Sprintf("%q done by sales: %s", task.Title, l.task))
	return nil
}

// feed prints score snapshots as the workflows record them.
func (d *demo) feed(ctx context.Context, out *printer, since int64, ids []string) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		snaps, last, err := store.SnapshotsSince(ctx, d.db, since, ids)
		if err == nil {
			since = last
			for _, s := range snaps {
				d.printSnapshot(out, s)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (d *demo) printSnapshot(out *printer, s store.Snapshot) {
	l := d.byID[s.LeadID]
	who := s.LeadID
	if l != nil {
		who = l.profile.Email
	}
	if what, text := timeline.Progress(s); what != "" {
		out.line(d.day(), what, who, text)
	}
}

func (d *demo) mailed(out *printer, m smtpsink.Message) {
	content := m.Header.Get("X-Nurture-Content")
	d.mu.Lock()
	switch {
	case m.Header.Get("X-Nurture-Handoff") != "":
		d.notices++
		content = "hand-off notice"
	case m.Header.Get("X-Nurture-Task") != "":
		d.notices++
		content = "task for sales"
	default:
		d.emails++
	}
	d.mu.Unlock()
	out.line(d.day(), "MAIL", strings.Join(m.To, ","), fmt.Sprintf("%q [%s]", m.Subject, content))
}
