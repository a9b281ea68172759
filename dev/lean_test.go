package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Temporal server belongs to this program alone: the binaries that
// ship in the image (the worker, the receiver and the operator CLI) must
// not link it, which keeps them a tenth of this one's size and their
// builds short. Test binaries may link it; this checks what the binaries
// themselves are built from.
func TestBinariesDoNotLinkTheTemporalServer(t *testing.T) {
	t.Parallel()
	server := func(pkg string) bool {
		return strings.HasPrefix(pkg, "go.temporal.io/server") || strings.HasPrefix(pkg, "github.com/temporalio/cli")
	}
	// go test puts its own go first on PATH, so this is the toolchain that
	// builds the binaries.
	const module = "github.com/nurture-dev/nurture/"
	list := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`,
		module+"worker", module+"receiver", module+"starter", module+"dev")
	var stderr bytes.Buffer
	list.Stderr = &stderr
	out, err := list.Output()
	require.NoError(t, err, stderr.String())
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		deps[strings.TrimPrefix(fields[0], module)] = fields[1:]
	}
	for _, binary := range []string{"worker", "receiver", "starter"} {
		require.Contains(t, deps[binary], "go.temporal.io/sdk/client", "the listing of %s is real", binary)
		for _, pkg := range deps[binary] {
			require.False(t, server(pkg), "%s links %s; only ./dev may", binary, pkg)
		}
	}
	require.True(t, slices.ContainsFunc(deps["dev"], server), "the check sees the server where it is: ./dev links it")
}
