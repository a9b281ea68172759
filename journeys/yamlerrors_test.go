package journeys

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// The shape walk reports wrong kinds before the decoder sees them; should
// the decoder still fail, its Go words are reworded.
func TestDecoderErrorsAreReworded(t *testing.T) {
	t.Parallel()
	var probe struct {
		N int      `yaml:"n"`
		L []string `yaml:"l"`
		M struct {
			A int `yaml:"a"`
		} `yaml:"m"`
		B bool `yaml:"b"`
	}
	for src, want := range map[string]string{
		"n: [1]\n": "d.yaml:1:4: expected a whole number here",
		"l: x\n":   "d.yaml:1:4: expected a list here",
		"m: [1]\n": "d.yaml:1:4: expected key: value lines here",
		"b: yes\n": "d.yaml:1:4: expected true or false here",
		"n: {a}\n": "d.yaml:1:4: expected a whole number here",
	} {
		err := yaml.Unmarshal([]byte(src), &probe)
		require.Error(t, err, src)
		p := decodeProblem("d.yaml", err)
		require.Equal(t, want, p.String(), src)
		require.False(t, strings.Contains(p.Message, "Go"), p.Message)
	}
}
