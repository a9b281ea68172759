// Package golden compares test output with files kept in the repository,
// and rewrites them when a test runs with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// update rewrites golden files: go test ./... -update (then review the diff).
var update = flag.Bool("update", false, "rewrite golden files")

// Check compares got with the file at path, or writes it with -update.
func Check(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run the test with -update")
	require.Equal(t, string(want), string(got), "%s is out of date; rerun the test with -update and review the diff", path)
}
