package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The image carries one binary: the starter, linked as worker and receiver,
// is each of them by the name it is called with.
func TestOneBinaryIsAllThree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "starter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, name := range []string{"worker", "receiver"} {
		require.NoError(t, os.Symlink("starter", filepath.Join(dir, name)))
	}
	for name, want := range map[string]string{
		"worker":   "usage: worker [flags]\n\nRuns the nurture Temporal worker.",
		"receiver": "usage: receiver [flags]",
		"starter":  "usage: starter COMMAND [flags] [args]",
	} {
		out, err := exec.Command(filepath.Join(dir, name), "-h").CombinedOutput()
		require.NoError(t, err, "%s -h: %s", name, out)
		require.Contains(t, string(out), want, name)
	}
}
