package journeys_test

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/golden"
	"github.com/nurture-dev/nurture/journeys"
)

func TestDiagramGolden(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(journeys.Shipped(), "*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, name := range names {
		j, _, err := journeys.LoadShipped(name)
		require.NoError(t, err, name)
		var out bytes.Buffer
		require.NoError(t, j.Diagram(&out), name)
		golden.Check(t, filepath.Join("testdata", strings.TrimSuffix(name, ".yaml")+".diagram.mmd"), out.Bytes())
	}
}
