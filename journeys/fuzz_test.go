package journeys_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/nurture-dev/nurture/journeys"
)

// FuzzParse feeds the loader arbitrary bytes: it must never panic, every
// rejection must be a list of positioned problems in a marketer's words
// (never the decoder's Go terms), warnings too, no more than MaxListed
// and a count of the rest, and every journey it accepts must survive the
// JSON round trip that publishing does.
// CI runs it for a short while: go test ./journeys -run '^$' -fuzz FuzzParse -fuzztime 20s
// Each new input is minimised first, by default for up to a minute of runs
// on inputs as large as the shipped journeys; -fuzzminimizetime 5s leaves
// that minute to fuzzing (170,000 runs in 90 s here, against a few dozen).
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
	f.Add([]byte("# nothing but a comment\n"))
	// Crashed goccy/go-yaml v1.19.2 (nil dereference in decodeSlice).
	f.Add([]byte("stages: ! "))
	f.Add([]byte(aliasBomb()))
	f.Add([]byte(strings.ReplaceAll(valid, "\n", "\r\n")))
	f.Add([]byte(strings.ReplaceAll(valid, "\n", "\r")))
	f.Add([]byte("\uFEFF" + valid))
	f.Add([]byte(valid + "---\n" + valid))
	f.Add([]byte(strings.Replace(valid, "name: Tiny", "name: Caf\xe9", 1)))
	f.Add([]byte(strings.Replace(valid, "min_score: 20", "min_score: 2.5", 1)))
	f.Add([]byte(strings.Replace(valid, "    email_click: {points: 5, axis: interest}", "    email_click: &p {points: 5, axis: interest}\n    page_view: {<<: *p, points: 1}", 1)))
	f.Add([]byte(strings.Replace(valid, "Hi {{.FirstName}}", `{{slice .FirstName 0 3}}{{printf "%0999999d" 1}}`, 1)))
	f.Add([]byte(strings.Repeat("[", 100)))
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	positioned := func(t *testing.T, ps journeys.Problems) {
		t.Helper()
		if len(ps) > journeys.MaxListed+1 {
			t.Fatalf("%d problems listed; at most %d and a count", len(ps), journeys.MaxListed)
		}
		for _, p := range ps {
			if p.Line < 1 || p.Column < 1 || p.Message == "" {
				t.Fatalf("problem without a position or message: %+v", p)
			}
			for _, w := range []string{"cannot unmarshal", "Go struct", "interface {}", "journeys.TemplateData", "runtime error"} {
				if strings.Contains(p.Message, w) {
					t.Fatalf("Go's words reach a marketer: %q", p.Message)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, warnings, err := journeys.Check("fuzz.yaml", data, journeys.Options{Now: now})
		positioned(t, warnings)
		if err != nil {
			var ps journeys.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not a list of problems: %v", err)
			}
			positioned(t, ps)
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
