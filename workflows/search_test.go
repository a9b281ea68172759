package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/workflows"
)

func TestTensRoundsDown(t *testing.T) {
	t.Parallel()
	for score, want := range map[int]int{0: 0, 9: 0, 10: 10, 57: 50, 100: 100, -1: -10, -10: -10, -11: -20} {
		require.Equal(t, want, workflows.Tens(score), "score %d", score)
	}
}
