// Package span is how journeys and scoring models write lengths of time:
// 36h, 3d, 2w, 1w3d, 90m. A day is 24 hours and a week 7 days, which is what
// a nurture cadence means.
package span

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a span as marketers write it: 36h, 3d, 2w, 1w3d, 90m. It is
// kept as written and parsed by validation, so a bad one is reported with
// its position alongside every other mistake in the file.
type Duration string

var units = []struct {
	suffix byte
	d      time.Duration
}{
	{'w', 7 * 24 * time.Hour},
	{'d', 24 * time.Hour},
	{'h', time.Hour},
	{'m', time.Minute},
	{'s', time.Second},
}

// Parse parses a Duration; weeks and days are calendar-free fixed
// spans (a day is 24h), which is what a nurture cadence means.
func Parse(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration; write a number and a unit, like 3d, 2w, 36h or 90m")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("duration %q does not parse; write a number and a unit (w, d, h, m, s), like 3d, 2w, 36h or 1w3d", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("duration %q: number too large", s)
		}
		var unit time.Duration
		for _, u := range units {
			if rest[i] == u.suffix {
				unit = u.d
			}
		}
		if unit == 0 {
			return 0, fmt.Errorf("duration %q has unknown unit %q; use w, d, h, m or s", s, rest[i:i+1])
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q must be longer than zero", s)
	}
	return total, nil
}

// Value is the parsed span; a duration that passed validation always parses.
func (d Duration) Value() time.Duration {
	v, _ := Parse(string(d))
	return v
}

// Format writes a span the way Parse reads it, in days, hours, minutes and
// seconds (1d12h, 90m is 1h30m); 0 for none.
func Format(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	var b strings.Builder
	for _, u := range units[1:] {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%c", n, u.suffix)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0"
	}
	return b.String()
}
