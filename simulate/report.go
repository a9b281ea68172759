package simulate

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteTimeline prints the timeline: journey day, the lead's local time,
// step, what, and the words.
func WriteTimeline(w io.Writer, r Result) {
	fmt.Fprintf(w, "%5s  %-15s  %-20s %-9s %s\n", "day", "local time", "step", "what", "")
	for _, l := range r.Lines {
		fmt.Fprintf(w, "%5.1f  %-15s  %-20s %-9s %s\n", days(l.At), l.Local.Format("Mon 02 Jan 15:04"), l.Step, l.What, l.Text)
	}
}

// WriteOutcome prints where the lead ended up and what it cost.
func WriteOutcome(w io.Writer, r Result) {
	o := r.Outcome
	var parts []string
	if o.MQLAt != nil {
		parts = append(parts, fmt.Sprintf("MQL at day %.1f", days(*o.MQLAt)))
	}
	if o.HandoffAt != nil {
		parts = append(parts, fmt.Sprintf("handed off at day %.1f", days(*o.HandoffAt)))
	} else {
		parts = append(parts, "never handed off")
	}
	switch {
	case o.Running:
		parts = append(parts, fmt.Sprintf("still %s at step %q", o.Lifecycle, o.Step))
	case o.ExitReason != "":
		parts = append(parts, fmt.Sprintf("%s (%s) at day %.1f", o.Lifecycle, o.ExitReason, days(*o.EndedAt)))
	case o.EndedAt != nil:
		parts = append(parts, fmt.Sprintf("%s at day %.1f", o.Lifecycle, days(*o.EndedAt)))
	}
	fmt.Fprintf(w, "outcome: %s; score %d; %d emails; cost %.2f\n", strings.Join(parts, ", "), o.Score.Total(), len(o.Sent), o.Cost())
}

// WriteChecks prints each expectation with what was found, and returns how
// many were not met.
func WriteChecks(w io.Writer, r Result, expect []Expectation) (failed int) {
	for _, e := range expect {
		ok, found := e.Check(r.Outcome)
		mark := "ok  "
		if !ok {
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(w, "  %s  %-24s %s\n", mark, e, found)
	}
	return failed
}

func days(d time.Duration) float64 { return d.Hours() / 24 }
