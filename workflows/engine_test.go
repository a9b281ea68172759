package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"
)

// TestEngineVersionOne: engine version 1 stands for every change made
// before it, and a change no engine version names is refused loudly.
func TestEngineVersionOne(t *testing.T) {
	t.Parallel()
	for _, change := range []string{versionSearchAttributes, versionNoticeApart, versionCRMHook, versionCapAcrossJourneys,
		versionSetStageHolds, versionSendQueue, versionLoadLocal, versionOneTimer, versionScoreInTens} {
		require.Equal(t, workflow.Version(1), engineSince(change), change)
	}
	require.Equal(t, workflow.Version(1), engineVersion)
	require.PanicsWithValue(t, `change "next-change" has no engine version: add it to engineSince`, func() { engineSince("next-change") })
}
