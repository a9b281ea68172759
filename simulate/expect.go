package simulate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/span"
)

// ExpectKind is what an expectation checks.
type ExpectKind string

// What a marketer can expect of a simulated lead.
const (
	// ExpectHandoffBy: handed off to sales no later than a journey time.
	ExpectHandoffBy ExpectKind = "handoff-by"
	// ExpectNoHandoff: never handed off.
	ExpectNoHandoff ExpectKind = "no-handoff"
	// ExpectMQLBy: became an MQL no later than a journey time.
	ExpectMQLBy ExpectKind = "mql-by"
	// ExpectExit: the journey ended with this exit reason.
	ExpectExit ExpectKind = "exit"
	// ExpectLifecycle: the lead's lifecycle at the end of the simulation.
	ExpectLifecycle ExpectKind = "lifecycle"
	// ExpectStage: the buying stage at the end of the simulation.
	ExpectStage ExpectKind = "stage"
	// ExpectEmails: how many emails the lead received.
	ExpectEmails ExpectKind = "emails"
	// ExpectSent and ExpectNotSent: a content item was (not) sent.
	ExpectSent    ExpectKind = "sent"
	ExpectNotSent ExpectKind = "not-sent"
	// ExpectEndsBy: the journey ended no later than a journey time.
	ExpectEndsBy ExpectKind = "ends-by"
)

var expectKinds = []ExpectKind{ExpectHandoffBy, ExpectNoHandoff, ExpectMQLBy, ExpectExit, ExpectLifecycle, ExpectStage,
	ExpectEmails, ExpectSent, ExpectNotSent, ExpectEndsBy}

// Expectation is one thing a simulation must show.
type Expectation struct {
	Kind ExpectKind
	// Value is as written; By is a parsed journey time, N a count.
	Value string
	By    time.Duration
	N     int
}

func (e Expectation) String() string {
	if e.Value == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + "=" + e.Value
}

// ParseExpectation reads `KIND=VALUE` (or `no-handoff`).
func ParseExpectation(s string) (Expectation, error) {
	k, v, _ := strings.Cut(strings.TrimSpace(s), "=")
	e := Expectation{Kind: ExpectKind(k), Value: v}
	if len(s) > 200 {
		return e, fmt.Errorf("expectation is %d bytes; they are short, like handoff-by=30d", len(s))
	}
	if !slices.Contains(expectKinds, e.Kind) {
		var names []string
		for _, k := range expectKinds {
			names = append(names, string(k))
		}
		return e, fmt.Errorf("expectation %q: unknown; use one of %s", s, strings.Join(names, ", "))
	}
	switch e.Kind {
	case ExpectNoHandoff:
		if v != "" {
			return e, fmt.Errorf("expectation %q: no-handoff takes no value", s)
		}
		return e, nil
	case ExpectHandoffBy, ExpectMQLBy, ExpectEndsBy:
		d, err := span.Parse(v)
		if err != nil {
			return e, fmt.Errorf("expectation %q: %w", s, err)
		}
		e.By = d
	case ExpectEmails:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return e, fmt.Errorf("expectation %q: write a count, like emails=4", s)
		}
		e.N = n
	default:
		if v == "" {
			return e, fmt.Errorf("expectation %q: say what after %s=", s, e.Kind)
		}
	}
	return e, nil
}

// Check says whether the outcome meets the expectation, and what was
// found when it does not.
func (e Expectation) Check(o Outcome) (ok bool, found string) {
	at := func(d *time.Duration) string {
		if d == nil {
			return "never"
		}
		return "at " + span.Format(*d)
	}
	switch e.Kind {
	case ExpectHandoffBy:
		return o.HandoffAt != nil && *o.HandoffAt <= e.By, "handed off " + at(o.HandoffAt)
	case ExpectNoHandoff:
		return o.HandoffAt == nil, "handed off " + at(o.HandoffAt)
	case ExpectMQLBy:
		return o.MQLAt != nil && *o.MQLAt <= e.By, "MQL " + at(o.MQLAt)
	case ExpectEndsBy:
		return o.EndedAt != nil && *o.EndedAt <= e.By, "ended " + at(o.EndedAt)
	case ExpectExit:
		return o.ExitReason == e.Value, "exit " + orNone(o.ExitReason)
	case ExpectLifecycle:
		return o.Lifecycle == e.Value, "lifecycle " + o.Lifecycle
	case ExpectStage:
		return o.Stage == e.Value, "stage " + orNone(o.Stage)
	case ExpectEmails:
		return len(o.Sent) == e.N, fmt.Sprintf("%d emails", len(o.Sent))
	case ExpectSent:
		return slices.Contains(o.Sent, e.Value), "sent " + orNone(strings.Join(o.Sent, ", "))
	case ExpectNotSent:
		return !slices.Contains(o.Sent, e.Value), "sent " + orNone(strings.Join(o.Sent, ", "))
	}
	return false, "unknown expectation"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
