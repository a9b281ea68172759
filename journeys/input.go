package journeys

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/scanner"
	"github.com/goccy/go-yaml/token"
)

// Limits on a journey file. They are checked before the YAML parser sees
// the file, or before anything expands an alias, so that no file, however
// hostile, makes validation or publishing take long or use much memory. A
// real journey is far inside them: the shipped B2B journey is 13 KB with
// about 570 values, 12 levels deep.
const (
	// MaxFileSize is the largest journey file, in bytes.
	MaxFileSize = 1 << 20
	// MaxValues is the most values (keys, texts, numbers, lists and
	// mappings) a file may hold, with every alias counted as the whole of
	// what it refers to. The YAML parser allocates about 1 KB per value.
	MaxValues = 100_000
	// MaxExpandedText is the most text, in bytes, a file may hold with its
	// aliases expanded: an alias of a 500 KB email body used a thousand
	// times is 500 MB of templates to check.
	MaxExpandedText = 2 * MaxFileSize
	// MaxDepth is how deeply lists and mappings may nest. The parser's
	// cost grows with the square of the depth; a journey needs about 12.
	MaxDepth = 32
	// MaxKeyLength is the longest key, in bytes. Keys are names (wait_for,
	// whitepaper_download, a persona); the parser copies every key into
	// the path of each value under it.
	MaxKeyLength = 64
	// MaxListed is how many problems of each kind (errors, warnings) are
	// listed; the rest are counted.
	MaxListed = 100
	// maxTokens bounds the parser's work on punctuation (: , - [ ] { })
	// that carries no value: four per value is more than any real file has.
	maxTokens = 4 * MaxValues
)

// readFile reads a journey file, but never more than one byte over the
// limit: a 10 GB file is refused without being read.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read journey: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read journey: %w", err)
	}
	if len(data) > MaxFileSize {
		// Say how big it really is, when the file system knows.
		if st, err := f.Stat(); err == nil && st.Size() > int64(len(data)) {
			return nil, Problems{tooLarge(path, st.Size())}
		}
	}
	return data, nil
}

func tooLarge(file string, size int64) Problem {
	return Problem{File: file, Line: 1, Column: 1, Message: fmt.Sprintf(
		"the file is %s (%d bytes); a journey file may be at most 1 MiB (%d bytes), so that validating and publishing it stay fast: is this the right file? A journey that really is this big can be split into journeys that recycle into each other",
		humanBytes(size), size, MaxFileSize)}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}

// normalise makes the bytes of a file what the parser expects: no byte
// order mark, LF line endings (a CR LF or a lone CR would shift every line
// number the parser reports), and valid UTF-8. A file that is not UTF-8
// gets one problem, and its bad bytes are replaced so that the rest of
// its mistakes are found too. A UTF-16 file cannot be read at all.
func normalise(file string, data []byte) ([]byte, Problems) {
	if len(data) > MaxFileSize {
		return nil, Problems{tooLarge(file, int64(len(data)))}
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, Problems{{File: file, Line: 1, Column: 1, Message: "the file is saved as UTF-16; save it as UTF-8 (in most editors: File, Save with encoding, UTF-8)"}}
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if bytes.IndexByte(data, '\r') >= 0 {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
		data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	}
	if utf8.Valid(data) {
		return data, nil
	}
	line, col, bad := 1, 1, 0
	var first Problem
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			if bad == 0 {
				first = Problem{File: file, Line: line, Column: col, Message: fmt.Sprintf("the file is not UTF-8: the byte 0x%02X here is not a character", data[i])}
			}
			bad++
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	if bad > 1 {
		first.Message += fmt.Sprintf(", nor are %d more bytes in the file", bad-1)
	}
	first.Message += "; save the file as UTF-8 (in most editors: File, Save with encoding, UTF-8)"
	ps := Problems{first}
	return bytes.ToValidUTF8(data, []byte("\uFFFD")), ps
}

// tokenize runs the YAML lexer, checking the limits that the parser itself
// would suffer from — too many values, too deep, keys too long — as the
// tokens come, so that a hostile file is stopped early rather than lexed
// whole (the lexer allocates a few hundred bytes a token). Depth counts
// flow brackets and, outside them, the indentation levels of block lists
// and mappings.
func tokenize(file string, src string) (token.Tokens, *Problem) {
	var s scanner.Scanner
	s.Init(src)
	var tokens token.Tokens
	var b budget
	for {
		// As lexer.Tokenize does: an invalid token comes with an error,
		// and is left for the parser to report.
		sub, err := s.Scan()
		if err == io.EOF {
			return tokens, nil
		}
		for _, tk := range sub {
			if msg, where := b.add(tk); msg != "" {
				p := at(file, where, msg)
				return nil, &p
			}
		}
		tokens.Add(sub...)
	}
}

// budget counts tokens against the limits.
type budget struct {
	values, all int
	flow        int
	indents     []int // columns of the open block levels
	prevLine    int
	prev        *token.Token
}

// add counts a token, and says what limit it crosses and where.
func (b *budget) add(tk *token.Token) (string, *token.Token) {
	if tk.Type == token.CommentType || tk.Position == nil {
		return "", nil
	}
	prev := b.prev
	b.prev = tk
	b.all++
	if b.all > maxTokens {
		return fmt.Sprintf("the file has more than %d YAML tokens (values and the : , - [ ] { } between them); a journey needs far fewer: is this the right file?", maxTokens), tk
	}
	switch tk.Type {
	case token.SequenceEndType, token.MappingEndType:
		b.flow = max(b.flow-1, 0)
	case token.SequenceStartType, token.MappingStartType, token.AliasType:
		b.values++
	case token.MappingValueType:
		if prev != nil && isScalarToken(prev.Type) && len(prev.Value) > MaxKeyLength {
			return fmt.Sprintf("this key is %d characters long; keys are names like wait_for or whitepaper_download, at most %d characters", len(prev.Value), MaxKeyLength), prev
		}
	default:
		if isScalarToken(tk.Type) {
			b.values++
		}
	}
	if b.values > MaxValues {
		return fmt.Sprintf("the file holds more than %d values (keys, texts, numbers, lists); a journey needs far fewer: is this the right file?", MaxValues), tk
	}
	if b.flow == 0 && (tk.Position.Line != b.prevLine || tk.Type == token.SequenceEntryType || tk.Type == token.MappingKeyType) {
		for len(b.indents) > 0 && b.indents[len(b.indents)-1] >= tk.Position.Column {
			b.indents = b.indents[:len(b.indents)-1]
		}
		b.indents = append(b.indents, tk.Position.Column)
	}
	if tk.Type == token.SequenceStartType || tk.Type == token.MappingStartType {
		b.flow++
	}
	b.prevLine = tk.Position.Line
	if len(b.indents)+b.flow > MaxDepth {
		return fmt.Sprintf("lists and mappings nest more than %d levels deep here; a journey needs about 12: check the indentation and the brackets", MaxDepth), tk
	}
	return "", nil
}

func isScalarToken(t token.Type) bool {
	switch t {
	case token.LiteralType, token.FoldedType, token.SingleQuoteType, token.DoubleQuoteType,
		token.NullType, token.InfinityType, token.NanType, token.IntegerType, token.BinaryIntegerType,
		token.OctetIntegerType, token.HexIntegerType, token.FloatType, token.StringType, token.BoolType:
		return true
	}
	return false
}

// expansion counts what a document holds with its aliases expanded, without
// expanding them: each anchor's size is counted once, where it is defined,
// and each alias adds the size of what it refers to. An alias bomb (nine
// aliases of nine aliases of ...) is refused at the alias that crosses a
// limit, before the decoder or the validator expands anything.
type expansion struct {
	file    string
	anchors map[string]size
	total   size
	over    *Problem
}

type size struct{ values, text int }

func (s size) add(o size) size {
	// Saturate: nine levels of nine aliases overflow an int otherwise.
	return size{min(s.values+o.values, MaxValues+1), min(s.text+o.text, MaxExpandedText+1)}
}

func (s size) tooBig() bool { return s.values > MaxValues || s.text > MaxExpandedText }

func checkExpansion(file string, body ast.Node) Problems {
	e := &expansion{file: file, anchors: map[string]size{}}
	e.count(body)
	if e.over != nil {
		return Problems{*e.over}
	}
	return nil
}

// count returns the expanded size of n and adds what it visits to the
// running total, stopping at the first node that takes it over a limit.
func (e *expansion) count(n ast.Node) size {
	if n == nil || e.over != nil {
		return size{}
	}
	var s size
	switch n := n.(type) {
	case *ast.DocumentNode:
		return e.count(n.Body)
	case *ast.AnchorNode:
		s = e.count(n.Value)
		if n.Name != nil {
			e.anchors[n.Name.GetToken().Value] = s
		}
		return s
	case *ast.TagNode:
		return e.count(n.Value)
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.GetToken().Value
		}
		s = e.anchors[name]
		e.total = e.total.add(s)
		if e.total.tooBig() {
			tk := n.GetToken()
			what := fmt.Sprintf("%d values", s.values)
			if e.total.text > MaxExpandedText {
				what = humanBytes(int64(s.text)) + " of text"
			}
			e.over = &Problem{File: e.file, Line: tk.Position.Line, Column: tk.Position.Column, Message: fmt.Sprintf(
				"the alias *%s stands for %s, and with it the file holds more than %d values or %s of text once its aliases are expanded; a journey needs far fewer: write the values out, or use fewer aliases",
				shorten(name), what, MaxValues, humanBytes(MaxExpandedText))}
		}
		return s
	case *ast.MappingNode:
		s = size{values: 1}
		e.total = e.total.add(s)
		for _, v := range n.Values {
			s = s.add(e.count(v))
		}
	case *ast.MappingValueNode:
		s = e.count(n.Key).add(e.count(n.Value))
	case *ast.MappingKeyNode:
		s = e.count(n.Value)
	case *ast.SequenceNode:
		s = size{values: 1}
		e.total = e.total.add(s)
		for _, v := range n.Values {
			s = s.add(e.count(v))
		}
	default:
		text := 0
		if tk := n.GetToken(); tk != nil {
			text = len(tk.Value)
		}
		if l, ok := n.(*ast.LiteralNode); ok && l.Value != nil {
			text = len(l.Value.Value)
		}
		s = size{values: 1, text: text}
		e.total = e.total.add(s)
	}
	if e.total.tooBig() && e.over == nil {
		tk := n.GetToken()
		e.over = &Problem{File: e.file, Line: tk.Position.Line, Column: tk.Position.Column, Message: fmt.Sprintf(
			"the file holds more than %d values or %s of text; a journey needs far fewer: is this the right file?", MaxValues, humanBytes(MaxExpandedText))}
	}
	return s
}
