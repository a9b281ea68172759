// Package timeline says what happened in a lead's journey as lines a
// person reads: the demo prints them as they happen, and the simulator
// prints a simulated lead's. Both read the same typed progress records, so
// a simulation and a real run of the same script print alike.
package timeline

import (
	"fmt"
	"strings"

	"github.com/nurture-dev/nurture/progress"
	"github.com/nurture-dev/nurture/store"
)

// What a line is about, in the left column.
const (
	Enroll    = "ENROLL"
	Score     = "SCORE"
	Stage     = "STAGE"
	Handoff   = "HANDOFF"
	Lifecycle = "LIFECYCLE"
	Exit      = "EXIT"
	Mail      = "MAIL"
	Event     = "EVENT"
	Sales     = "SALES"
	Task      = "TASK"
	Journey   = "JOURNEY"
)

// Progress is the line a progress record makes: what and its text. An
// enrolment makes none (the caller says who enrolled and how); a score
// change, the lead becoming an MQL with it too, is a SCORE line.
func Progress(s store.Snapshot) (what, text string) {
	switch s.Kind {
	case progress.Enrolled:
		return "", ""
	case progress.HandedOff:
		return Handoff, fmt.Sprintf("to sales at score %d: %s", s.Score.Total(), strings.TrimPrefix(s.Reason, "handed off: "))
	case progress.Exited:
		return Exit, strings.TrimPrefix(s.Reason, "exited: ")
	case progress.Stage:
		return Stage, strings.TrimPrefix(strings.TrimPrefix(s.Reason, "entered stage "), "stage set to ")
	case progress.Verdict:
		return Lifecycle, fmt.Sprintf("%s (%s)", s.Lifecycle, s.Reason)
	case progress.Migrated:
		return Journey, s.Reason
	}
	return Score, fmt.Sprintf("%3d  (fit %d, interest %d, intent %d)  after %s", s.Score.Total(), s.Score.Fit, s.Score.Interest, s.Score.Intent, s.Reason)
}
