package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

func (d *demo) summary(ctx context.Context, results []workflows.Result) error {
	elapsed := time.Since(d.started)
	fmt.Fprintf(d.stdout, "\nsummary after %s (%.0f journey days):\n", elapsed.Round(time.Second), d.day())
	fmt.Fprintf(d.stdout, "  %-24s %-13s %6s %7s  %s\n", "lead", "lifecycle", "score", "emails", "outcome")
	handoffs := 0
	for i, l := range d.leads {
		sends, err := store.CountSends(ctx, d.db, l.profile.ID)
		if err != nil {
			return err
		}
		hs, err := store.ListHandoffs(ctx, d.db, l.profile.ID)
		if err != nil {
			return err
		}
		handoffs += len(hs)
		var outcome []string
		for _, h := range hs {
			if h.Verdict != "" {
				outcome = append(outcome, fmt.Sprintf("handed off at %d, sales said %s", h.Total, h.Verdict))
			}
		}
		if r := results[i].ExitReason; r != "" {
			outcome = append(outcome, "exit: "+string(r))
		}
		fmt.Fprintf(d.stdout, "  %-24s %-13s %6d %7d  %s\n", l.profile.Email, results[i].Lifecycle, results[i].Score, sends, strings.Join(outcome, "; "))
	}
	d.mu.Lock()
	fmt.Fprintf(d.stdout, "  %d journey emails and %d notices to sales (hand-offs, tasks) received by the SMTP sink; %d hand-offs\n", d.emails, d.notices, handoffs)
	d.mu.Unlock()
	return nil
}
