package journeys_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
)

// allocated measures what f allocates, in bytes. The tests that use it do
// not run in parallel, so the count is theirs alone.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileFilesCostLittle: any file under the size limit is validated
// (or refused) with bounded allocation. The bounds are about three times
// what BenchmarkParse* measure, so that they catch a blow-up (the alias
// bomb used to take 2.2 GB) and not noise. No wall-clock assertions: the
// machines are shared.
func TestHostileFilesCostLittle(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name    string
		src     string
		valid   bool
		message string
		limit   uint64
	}{
		{"alias bomb", aliasBomb(), false, "the alias *a4 stands for", 8 * mb},
		{"a large journey just under the size limit", bigJourney(journeys.MaxFileSize), true, "", 400 * mb},
		{"the most steps the value limit allows", denseJourney(), true, "", 800 * mb},
		{"a megabyte of [", strings.Repeat("[", journeys.MaxFileSize), false, "nest more than 32 levels deep", 800 * mb},
		{"a megabyte of list items", strings.Repeat("- 1\n", journeys.MaxFileSize/4), false, "more than 100000 values", 400 * mb},
		{"a megabyte of aliases", "a: &a x\nb: [" + strings.Repeat("*a,", journeys.MaxFileSize/3-10) + "*a]\n", false, "more than 100000 values", 800 * mb},
		{"long keys over a long list", strings.Repeat("k", 60) + ":\n  " + strings.Repeat("k", 60) + ": [" + strings.Repeat("1,", 90_000) + "1]\n", false, `unknown key "kkkk`, 400 * mb},
		{"a megabyte of printf padding", "id: t\ncontent:\n" + strings.Repeat("  - {id: a, stage: s, subject: \"{{printf \\\"%0999999d\\\" 1}}\", text: x}\n", 10_000), false, "printf width or precision above 100", 400 * mb},
	}
	for _, tt := range tests {
		var err error
		used := allocated(func() { _, _, err = journeys.Check("hostile.yaml", []byte(tt.src), journeys.Options{}) })
		t.Logf("%s: %d bytes, %.1f MB allocated", tt.name, len(tt.src), float64(used)/mb)
		if tt.valid {
			require.NoError(t, err, tt.name)
		} else {
			require.ErrorContains(t, err, tt.message, tt.name)
		}
		require.Less(t, used, tt.limit, "%s allocated %.1f MB", tt.name, float64(used)/mb)
	}
}

func TestAliasBombIsRefusedAtTheAlias(t *testing.T) {
	t.Parallel()
	_, err := journeys.Parse("bomb.yaml", []byte(aliasBomb()))
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	require.Len(t, ps, 1)
	require.Equal(t, [2]int{8, 10}, [2]int{ps[0].Line, ps[0].Column}, "the first alias that crosses the limit: %v", ps)
	require.Contains(t, ps[0].Message, "more than 100000 values")
}

func TestTooLargeSaysHowLarge(t *testing.T) {
	t.Parallel()
	_, err := journeys.Parse("big.yaml", make([]byte, journeys.MaxFileSize+1))
	require.ErrorContains(t, err, "big.yaml:1:1: the file is 1.0 MiB (1048577 bytes); a journey file may be at most 1 MiB (1048576 bytes)")

	// A file on disk is not read whole to find out.
	path := filepath.Join(t.TempDir(), "huge.yaml")
	require.NoError(t, os.WriteFile(path, make([]byte, 3<<20), 0o644))
	_, _, err = journeys.LoadFile(path)
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	require.Contains(t, ps[0].Message, "the file is 3.0 MiB (3145728 bytes)")
}

// The same mistakes are reported at the same places whatever the line
// endings, with or without a byte order mark.
func TestLineEndingsAndByteOrderMark(t *testing.T) {
	t.Parallel()
	src := strings.NewReplacer("send: hello", "send: helo", "wait: 3d", "wait: soon").Replace(valid)
	_, want := journeys.Parse("tiny.yaml", []byte(src))
	require.Error(t, want)
	for name, variant := range map[string]string{
		"CR LF":         strings.ReplaceAll(src, "\n", "\r\n"),
		"CR":            strings.ReplaceAll(src, "\n", "\r"),
		"BOM":           "\uFEFF" + src,
		"BOM and CR LF": "\uFEFF" + strings.ReplaceAll(src, "\n", "\r\n"),
	} {
		_, got := journeys.Parse("tiny.yaml", []byte(variant))
		require.Equal(t, want.Error(), got.Error(), name)
	}
	path := filepath.Join(t.TempDir(), "windows.yaml")
	require.NoError(t, os.WriteFile(path, []byte("\uFEFF"+strings.ReplaceAll(valid, "\n", "\r\n")), 0o644))
	j, src2, err := journeys.LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, "tiny", j.ID)
	require.Equal(t, valid, string(src2), "the published source is normalised")
}

func TestEncodings(t *testing.T) {
	t.Parallel()
	latin1 := strings.Replace(valid, "name: Tiny", "name: Caf\xe9 \xe9t\xe9", 1)
	latin1 = strings.Replace(latin1, "wait: 3d", "wait: soon", 1)
	_, err := journeys.Parse("latin1.yaml", []byte(latin1))
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	require.Len(t, ps, 2, "the encoding, and the other mistake too: %v", ps)
	require.Equal(t, "latin1.yaml:2:10: the file is not UTF-8: the byte 0xE9 here is not a character, nor are 2 more bytes in the file; save the file as UTF-8 (in most editors: File, Save with encoding, UTF-8)", ps[0].String())
	require.Contains(t, ps[1].Message, `wait: duration "soon"`)

	_, err = journeys.Parse("utf16.yaml", []byte("\xff\xfei\x00d\x00"))
	require.ErrorContains(t, err, "utf16.yaml:1:1: the file is saved as UTF-16; save it as UTF-8")
}

func TestFilesThatHoldNoJourney(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		src  string
		want string
	}{
		"empty":        {"", "empty.yaml:1:1: the file is empty; a journey needs at least an id, a name, a scoring model, a handoff rule, stages with steps and the content they send"},
		"comments":     {"# a journey, one day\n\n# nothing yet\n", "empty.yaml:1:1: the file is empty"},
		"a bare ---":   {"---\n", "empty.yaml:1:1: the file is empty"},
		"null":         {"~\n", "empty.yaml:1:1: the file is empty"},
		"a list":       {"- id: x\n- id: y\n", "empty.yaml:1:1: a journey file is a set of key: value lines (id:, name:, stages:, ...), but this one holds a list"},
		"a word":       {"hello\n", `empty.yaml:1:1: a journey file is a set of key: value lines (id:, name:, stages:, ...), but this one holds "hello"`},
		"two journeys": {valid + "---\n" + valid, "empty.yaml:21:1: a journey file holds one journey, but a second YAML document starts here (after ---)"},
	} {
		_, err := journeys.Parse("empty.yaml", []byte(tt.src))
		require.ErrorContains(t, err, tt.want, name)
	}
}

func TestSyntaxErrorsInWords(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"id: [a, b\n":                      "s.yaml:1:5: a list opened with [ here is not closed; add the ] that ends it",
		"id: x\nname: \"Tiny\n":            `s.yaml:2:7: the text in double quotes that starts here is not closed; add the closing "`,
		"id: x\nstages:\n\t- a\n":          "s.yaml:3:1: a tab: YAML indents with spaces, never tabs",
		"id: x\nname: a: b\n":              `s.yaml:2:7: unexpected colon: a value that contains ": " must be in quotes, or this line is indented wrongly`,
		"id: x\n  name: y\n":               "s.yaml:1:5: unexpected colon",
		"id: @x\n":                         "s.yaml:1:5: a value cannot start with @; put it in quotes",
		strings.Repeat("k", 100) + ": 1\n": "s.yaml:1:1: this key is 100 characters long; keys are names like wait_for or whitepaper_download, at most 64 characters",
	} {
		_, err := journeys.Parse("s.yaml", []byte(src))
		var ps journeys.Problems
		require.True(t, errors.As(err, &ps), "%q: got %v", src, err)
		require.Len(t, ps, 1, "%q", src)
		require.Contains(t, ps[0].String(), want, "%q", src)
	}
}

func TestProblemListIsCapped(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(valid)
	for i := range 150 {
		b.WriteString("unknown_" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "_" + strings.Repeat("y", i/26) + ": 1\n")
	}
	_, err := journeys.Parse("many.yaml", []byte(b.String()))
	var ps journeys.Problems
	require.True(t, errors.As(err, &ps), "got %v", err)
	require.Len(t, ps, journeys.MaxListed+1)
	require.Equal(t, "... and 50 more; fix the ones above and validate again", ps[journeys.MaxListed].Message)
	require.Equal(t, ps[journeys.MaxListed-1].Line+1, ps[journeys.MaxListed].Line, "placed at the first left out")
}
