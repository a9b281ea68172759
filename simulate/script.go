// Package simulate runs a journey for a made-up lead on the SDK's
// time-skipping test environment: the production LeadJourney workflow,
// with activities replaced by in-memory ones that behave like the real
// ones (content rendered with the lead's data, suppression checked at send
// time, hand-offs and tasks numbered). Months of journey time take well
// under a second, so marketers try a journey before it goes live and keep
// their expectations of it next to the journey file, checked in CI.
//
// A simulation is a lead, a script of what happens to it at journey times
// ("3d whitepaper_download", "10d 14:00 pricing_page_view", "12d verdict
// accepted", "20d task reached"), and expectations of the outcome
// ("handoff-by=30d", "exit=no_engagement"). Journey time starts at the
// simulation's start, which the caller pins: a simulation never reads the
// wall clock.
package simulate

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/span"
	"github.com/nurture-dev/nurture/workflows"
)

// Limits on scripts: they are files people and CI hand in.
const (
	MaxScriptBytes = 64 << 10
	MaxScriptLines = 2000
	maxLineBytes   = 1000
	// MaxJourneyTime bounds when anything may happen, and how long a
	// simulation runs.
	MaxJourneyTime = 5 * 365 * 24 * time.Hour
)

// ActionKind is what a script line does.
type ActionKind string

// What a script can make happen.
const (
	// ActEvent is engagement: an event type with properties.
	ActEvent ActionKind = "event"
	// ActVerdict is sales' verdict on the open hand-off.
	ActVerdict ActionKind = "verdict"
	// ActTask is a task's outcome (a call: reached, no_answer, ...).
	ActTask ActionKind = "task"
)

// Action is one script line: at a journey time, something happens.
type Action struct {
	// Line is the script line it came from (1-based), for messages.
	Line int
	// After is the journey time from the start. When Clock is set, After
	// is whole days and the action comes at that local time on that day.
	After time.Duration
	// Clock is minutes after local midnight, or -1 for none.
	Clock int
	Kind  ActionKind
	// Event is the engagement of an ActEvent.
	Event lead.EventType
	// Properties of an ActEvent (key=value words after the type).
	Properties map[string]string
	// Verdict and Outcome are an ActVerdict's and an ActTask's; Note is the
	// verdict's reason or the task's note (the rest of the line).
	Verdict string
	Outcome string
	Note    string
}

// At is when the action happens, for a journey that started at start in
// the lead's location.
func (a Action) At(start time.Time, loc *time.Location) time.Time {
	if a.Clock < 0 {
		return start.Add(a.After)
	}
	local := start.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, int(a.After/(24*time.Hour)))
	return day.Add(time.Duration(a.Clock) * time.Minute)
}

// ParseScript reads a script: one action a line, `#` starts a comment.
// name is the script's name in messages ("script" or a file name). Every
// mistake is reported, each with its line.
func ParseScript(name string, src string) ([]Action, error) {
	if len(src) > MaxScriptBytes {
		return nil, fmt.Errorf("%s is %d bytes; a script is at most %d", name, len(src), MaxScriptBytes)
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("%s is not UTF-8 text", name)
	}
	var out []Action
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 0, 4096), MaxScriptBytes+1)
	n := 0
	for sc.Scan() {
		n++
		if n > MaxScriptLines {
			errs = append(errs, fmt.Errorf("%s has more than %d lines", name, MaxScriptLines))
			break
		}
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		a, err := ParseAction(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			if len(errs) >= 50 {
				errs = append(errs, errors.New("... and more; fix these first"))
				break
			}
			continue
		}
		a.Line = n
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return out, errors.Join(errs...)
}

// ParseAction reads one action: `WHEN [HH:MM] WHAT ...`, where WHEN is a
// journey time (0, 12h, 3d, 2w1d) and WHAT an event type with key=value
// properties, `verdict accepted|rejected|recycle [reason]` or
// `task OUTCOME [note]`.
func ParseAction(text string) (Action, error) {
	a := Action{Clock: -1}
	if len(text) > maxLineBytes {
		return a, fmt.Errorf("the line is %d bytes; at most %d", len(text), maxLineBytes)
	}
	words := strings.Fields(text)
	if len(words) < 2 {
		return a, fmt.Errorf("%q: write a journey time and what happens, like `3d whitepaper_download` or `10d 14:00 pricing_page_view`", strings.TrimSpace(text))
	}
	if words[0] != "0" {
		d, err := span.Parse(words[0])
		if err != nil {
			return a, err
		}
		a.After = d
	}
	if a.After > MaxJourneyTime {
		return a, fmt.Errorf("%s is later than a simulation runs (%s)", words[0], span.Format(MaxJourneyTime))
	}
	words = words[1:]
	if clock, ok, err := parseClock(words[0]); err != nil {
		return a, err
	} else if ok {
		if a.After%(24*time.Hour) != 0 {
			return a, fmt.Errorf("%s %s: with a time of day, write whole days (like 10d 14:00)", span.Format(a.After), words[0])
		}
		a.Clock = clock
		words = words[1:]
		if len(words) == 0 {
			return a, errors.New("say what happens after the time of day")
		}
	}
	switch words[0] {
	case string(ActVerdict):
		a.Kind = ActVerdict
		if len(words) < 2 {
			return a, errors.New("verdict: say accepted, rejected or recycle")
		}
		a.Verdict, a.Note = words[1], strings.Join(words[2:], " ")
		if err := (workflows.SalesFeedback{Verdict: workflows.Verdict(a.Verdict), Reason: a.Note}).Validate(); err != nil {
			return a, err
		}
	case string(ActTask):
		a.Kind = ActTask
		if len(words) < 2 {
			return a, errors.New("task: say its outcome, like `task reached`")
		}
		a.Outcome, a.Note = words[1], strings.Join(words[2:], " ")
		if err := (workflows.TaskOutcome{Outcome: a.Outcome, Note: a.Note}).Validate(); err != nil {
			return a, err
		}
	default:
		a.Kind, a.Event = ActEvent, lead.EventType(words[0])
		if !a.Event.Known() {
			return a, fmt.Errorf("%q is not an event type, verdict or task; event types: %s", words[0], lead.KnownEventTypeList())
		}
		for _, w := range words[1:] {
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return a, fmt.Errorf("%q: write an event's properties as key=value", w)
			}
			if a.Properties == nil {
				a.Properties = map[string]string{}
			}
			a.Properties[k] = v
		}
		if len(a.Properties) > lead.MaxProperties {
			return a, fmt.Errorf("%d properties; at most %d", len(a.Properties), lead.MaxProperties)
		}
	}
	return a, nil
}

// parseClock reads HH:MM; ok is false for a word that is not one.
func parseClock(w string) (minutes int, ok bool, err error) {
	h, m, found := strings.Cut(w, ":")
	if !found || h == "" || strings.Trim(h, "0123456789") != "" {
		return 0, false, nil
	}
	var hh, mm int
	if _, err := fmt.Sscanf(h+" "+m, "%d %d", &hh, &mm); err != nil || len(m) != 2 || len(h) > 2 || hh > 23 || mm > 59 {
		return 0, false, fmt.Errorf("time of day %q: write HH:MM, like 09:30 or 14:00", w)
	}
	return hh*60 + mm, true, nil
}
