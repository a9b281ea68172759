package journeys_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/golden"
	"github.com/nurture-dev/nurture/journeys"
)

// TestTenMistakesTenMessages: every mistake in the file gets its own
// message, with its line and column, in one run.
func TestTenMistakesTenMessages(t *testing.T) {
	t.Parallel()
	_, _, err := journeys.LoadFile("testdata/ten-mistakes.yaml")
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	require.Len(t, ps, 10, "%v", ps)
	golden.Check(t, "testdata/ten-mistakes.txt", []byte(ps.Error()+"\n"))
}

// TestManyMistakes: mistakes of kind (a word for a number, a fraction for a
// whole number, a single value for a list), of meaning (a case that can
// never hold, a date in the past, no unsubscribe link, a template that
// fails for a one-letter name) and a second document, all in one run,
// errors and warnings in file order.
func TestManyMistakes(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/many-mistakes.yaml")
	require.NoError(t, err)
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	_, warnings, err := journeys.Check("testdata/many-mistakes.yaml", data, journeys.Options{Now: now})
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	require.Len(t, ps, 19, "%v", ps)
	require.Len(t, warnings, 2, "%v", warnings)
	golden.Check(t, "testdata/many-mistakes.txt", []byte(journeys.Merge(ps, warnings).Error()+"\n"))
}
