package journeys_test

import (
	"errors"
	"testing"

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
