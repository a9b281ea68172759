package journeys_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/nurture-dev/nurture/journeys"
)

// FuzzParse feeds the loader arbitrary bytes: it must never panic, every
// rejection must be a list of positioned problems, and every journey it
// accepts must survive the JSON round trip that publishing does.
// CI runs it for a short while: go test ./journeys -run '^$' -fuzz FuzzParse -fuzztime 20s
func FuzzParse(f *testing.F) {
	names, _ := fs.Glob(journeys.Shipped(), "*.yaml")
	for _, name := range names {
		data, _ := fs.ReadFile(journeys.Shipped(), name)
		f.Add(data)
	}
	f.Add([]byte(valid))
	f.Add([]byte(head))
	f.Add([]byte(strings.Replace(valid, "wait: 3d", "wait: [3d", 1)))
	f.Add([]byte("id: x\nstages: {a: 1}\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte(""))
	// Crashed goccy/go-yaml v1.19.2 (nil dereference in decodeSlice).
	f.Add([]byte("stages: ! "))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := journeys.Parse("fuzz.yaml", data)
		if err != nil {
			var ps journeys.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not a list of problems: %v", err)
			}
			for _, p := range ps {
				if p.Line < 1 || p.Column < 1 || p.Message == "" {
					t.Fatalf("problem without a position or message: %+v", p)
				}
			}
			return
		}
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("accepted journey does not encode: %v", err)
		}
		var back journeys.Journey
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("accepted journey does not decode: %v", err)
		}
		if len(back.Steps()) != len(j.Steps()) {
			t.Fatalf("round trip lost steps")
		}
	})
}
