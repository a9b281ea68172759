package journeys_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// update rewrites golden files: go test ./journeys -update
var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with the file at path (relative to the package), or
// writes it when -update is set.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./journeys -update")
	require.Equal(t, string(want), string(got), "%s is out of date; run go test ./journeys -update and review the diff", path)
}
