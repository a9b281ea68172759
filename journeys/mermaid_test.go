package journeys_test

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/golden"
	"github.com/nurture-dev/nurture/journeys"
)

// The shipped journeys' diagrams, checked against files a reviewer reads
// (and checked with Mermaid's own parser when they were written).
func TestMermaidGolden(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(journeys.Shipped(), "*.yaml")
	require.NoError(t, err)
	for _, name := range names {
		j, _, err := journeys.LoadShipped(name)
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, j.Mermaid(&out))
		golden.Check(t, filepath.Join("testdata", strings.TrimSuffix(name, ".yaml")+".mmd"), out.Bytes())
	}
}

func TestMermaidEdges(t *testing.T) {
	t.Parallel()
	j, err := journeys.Parse("x.yaml", []byte(head+`stages:
  - id: interest
    steps:
      - id: hello
        send: hello
      - id: listen
        wait_for:
          events: [email_click, demo_request]
          timeout: 2d
          on: {demo_request: hot}
          on_timeout: check
      - id: check
        branch:
          cases:
            - when: {score_at_least: 10, engaged: [email_click]}
              goto: hot
          otherwise: bye
      - id: hot
        handoff: {note: "asked for a demo"}
      - id: bye
        exit: quiet
`))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, j.Mermaid(&out))
	got := out.String()
	for _, want := range []string{
		`s_listen{"wait up to 2d for email_click, demo_request"}`,
		`s_listen -->|"demo_request"| s_hot`,
		`s_listen -->|"other event"| s_check`,
		`s_listen -->|"timeout"| s_check`,
		`s_check -->|"score ≥ 10 and did email_click"| s_hot`,
		`s_check -->|"otherwise"| s_bye`,
		`s_hot -.-> sales`,
		`s_bye(["exit: quiet"]):::exit`,
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "s_bye -->", "an exit leads nowhere")

	// Every node an edge names is declared.
	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+)[\[({/]`).FindAllStringSubmatch(got, -1) {
		declared[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+) -[.-]+>(?:\|"[^"]*"\|)? (\w+)$`).FindAllStringSubmatch(got, -1) {
		require.True(t, declared[m[1]], "edge from undeclared %s", m[1])
		require.True(t, declared[m[2]], "edge to undeclared %s", m[2])
	}
}

func TestMermaidKeepsStepsApartAndQuotesLabels(t *testing.T) {
	t.Parallel()
	j, err := journeys.Parse("x.yaml", []byte(head+`stages:
  - id: interest
    steps:
      - id: a-b
        wait_for:
          events: [email_click]
          timeout: 2d
          on: {email_click: a_b}
      - id: a_b
        branch:
          cases:
            - when: {field: {name: industry, one_of: ["SaaS (B2B)"]}}
              goto: a-b
          otherwise: bye
      - id: bye
        exit: done
`))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, j.Mermaid(&out))
	got := out.String()
	require.Contains(t, got, `s_a_b{"wait up to 2d for email_click"}`)
	require.Contains(t, got, `s_a_b_2{"branch a_b"}`, "a-b and a_b are two nodes")
	require.Contains(t, got, `s_a_b_2 -->|"industry in SaaS (B2B)"| s_a_b`, "brackets inside a quoted label")
	require.NotContains(t, got, "other event", "every awaited event has its branch")
	require.NotContains(t, got, `"event"`)
}
