package journeys

import (
	"time"

	"github.com/nurture-dev/nurture/span"
)

// Duration is a span of time as marketers write it (see package span).
type Duration = span.Duration

// ParseDuration parses a Duration.
func ParseDuration(s string) (time.Duration, error) { return span.Parse(s) }
