package span_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/span"
)

func TestFormatReadsBack(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0", 36 * time.Hour: "1d12h", 90 * time.Minute: "1h30m", 14 * 24 * time.Hour: "14d",
		time.Second: "1s", 500 * time.Millisecond: "0",
	} {
		require.Equal(t, want, span.Format(d), d.String())
		if want != "0" {
			back, err := span.Parse(want)
			require.NoError(t, err)
			require.Equal(t, d, back)
		}
	}
}
