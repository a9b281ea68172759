package journeys

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseClock reads HH:MM as minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("%q is not a time of day; write HH:MM, like 09:00 or 17:30", s)
	}
	return hh*60 + mm, nil
}

// ParseDate reads a wait_until date: 2026-12-01 is midnight in loc; an
// RFC 3339 time is taken as written.
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("date %q does not parse; write 2026-12-01 or 2026-12-01T09:00:00Z", s)
}

// NextOpen returns the first moment at or after t when the window is open,
// on the clock of t's location. A nil window is always open. It is pure, so
// workflows use it with workflow time.
func (w *SendWindow) NextOpen(t time.Time) time.Time {
	if w == nil {
		return t
	}
	from, _ := parseClock(w.From)
	to, _ := parseClock(w.To)
	days := map[time.Weekday]bool{}
	for _, d := range w.Days {
		days[weekdays[strings.ToLower(d)]] = true
	}
	for i := 0; i < 8; i++ {
		day := time.Date(t.Year(), t.Month(), t.Day()+i, 0, 0, 0, 0, t.Location())
		if len(days) > 0 && !days[day.Weekday()] {
			continue
		}
		// Built from the wall clock, not added to midnight, so a day on
		// which the clocks change still opens at From.
		open := time.Date(day.Year(), day.Month(), day.Day(), from/60, from%60, 0, 0, t.Location())
		end := time.Date(day.Year(), day.Month(), day.Day(), to/60, to%60, 0, 0, t.Location())
		switch {
		case t.Before(open):
			return open
		case t.Before(end):
			return t
		}
	}
	return t // no day matches; validation prevents it
}
