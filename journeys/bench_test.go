package journeys_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/nurture-dev/nurture/journeys"
)

// bigJourney writes a valid journey of about size bytes, shaped like a real
// one that grew: stages of send, wait and wait_for steps, and a content item
// with a long HTML and text body for each send.
func bigJourney(size int) string {
	var b strings.Builder
	b.WriteString(`id: big
name: A journey that grew
scoring:
  mql: 40
  events:
    email_click: {points: 3, axis: interest}
    demo_request: {points: 40, axis: intent}
handoff:
  min_score: 90
`)
	body := strings.Repeat("Benchmarks, case studies and the numbers behind them. ", 30)
	var stages, content strings.Builder
	stages.WriteString("stages:\n")
	content.WriteString("content:\n")
	for i := 0; b.Len()+stages.Len()+content.Len() < size-4000; i++ {
		if i%10 == 0 {
			fmt.Fprintf(&stages, "  - id: stage-%d\n    steps:\n", i/10)
		}
		fmt.Fprintf(&stages, `      - id: send-%d
        send: item-%d
      - id: wait-%d
        wait_for:
          events: [email_click, demo_request]
          timeout: 3d
          on: {demo_request: pause-%d}
      - id: pause-%d
        wait: 2d
`, i, i, i, i, i)
		fmt.Fprintf(&content, `  - id: item-%d
    stage: stage-%d
    subject: "{{or .FirstName \"Hi\"}}, part %d"
    text: |
      Hi {{or .FirstName "there"}},
      %s
      Unsubscribe: {{.UnsubscribeURL}}
    html: |
      <p>Hi {{or .FirstName "there"}},</p>
      <p>%s</p>
      <p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>
`, i, i/10, i, body, body)
	}
	return b.String() + stages.String() + content.String()
}

// denseJourney writes a valid journey with as many small steps as the
// limit on values allows (five values a step): the most work a valid file
// can ask for.
func denseJourney() string {
	var b strings.Builder
	b.WriteString(`id: dense
name: Dense
scoring:
  mql: 10
  events:
    email_click: {points: 5, axis: interest}
handoff:
  min_score: 20
content:
  - {id: hello, stage: s, subject: Hi, text: "Hello {{.UnsubscribeURL}}"}
stages:
  - id: s
    steps:
`)
	for i := 0; i < journeys.MaxValues/5-100; i++ {
		fmt.Fprintf(&b, "      - {id: w%d, wait: 1d}\n", i)
	}
	return b.String()
}

// aliasBomb is 600-odd bytes that expand to nine to the ninth values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("id: bomb\nname: Bomb\na0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return b.String()
}

func benchmarkParse(b *testing.B, src []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		_, _, _ = journeys.Check("bench.yaml", src, journeys.Options{})
	}
}

// go test ./journeys -run '^$' -bench Parse -benchmem
func BenchmarkParseShipped(b *testing.B) {
	data, err := fs.ReadFile(journeys.Shipped(), "b2b-nurture.yaml")
	if err != nil {
		b.Fatal(err)
	}
	benchmarkParse(b, data)
}

func BenchmarkParseLarge(b *testing.B) { benchmarkParse(b, []byte(bigJourney(journeys.MaxFileSize))) }

func BenchmarkParseDense(b *testing.B) { benchmarkParse(b, []byte(denseJourney())) }

func BenchmarkParseAliasBomb(b *testing.B) { benchmarkParse(b, []byte(aliasBomb())) }
