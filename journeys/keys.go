package journeys

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/span"
)

// shape walks the YAML tree beside the Go type it decodes into, and reports
// every key the type does not have (with the nearest known key), every key
// written twice, and every value of the wrong kind (a word where a number
// belongs, a fraction where a whole number does, a single value where a
// list does), each at its line and column. The decoder stops at the first
// such mistake and words it in Go's terms; a marketer wants them all, in
// theirs.
//
// It repairs the tree as it goes: a value of the wrong kind is replaced by
// null, so that the decoder can read the rest and validation can report
// every other mistake too. The paths it reported at are returned as shaky,
// with the mappings holding them, so that validation does not pile a
// consequence ("step does nothing", "needs min_score") on the real mistake.
//
// It records where each path is written as it goes, so a problem found
// later is placed by a map lookup rather than a search of the tree.
//
// It follows aliases, expanding them; checkExpansion has bounded what that
// costs before the walk starts.
type shapeWalker struct {
	file     string
	problems Problems
	warnings Problems
	shaky    map[string]bool
	pos      positions
	anchors  map[string]ast.Node
	// reported holds the problems already listed: an aliased value is
	// walked at each use, and its mistakes are listed once.
	reported map[Problem]bool
}

// positions maps the YAML paths of values (like $.stages[0].steps[2].wait)
// to where they are written, and the paths of map entries to where their
// keys are.
type positions struct {
	value map[string]spot
	key   map[string]spot
}

// spot is where a value is written, and whether it is a literal block (|)
// or a plain value, whose text is as written (a template's line and column
// can then be found in the file).
type spot struct {
	Line, Column   int
	Literal, Plain bool
}

func walkShape(file string, body ast.Node) *shapeWalker {
	w := &shapeWalker{
		file: file, shaky: map[string]bool{}, anchors: map[string]ast.Node{}, reported: map[Problem]bool{},
		pos: positions{value: map[string]spot{}, key: map[string]spot{}},
	}
	if body != nil && !isMapping(body) && !isNull(body) {
		tk := body.GetToken()
		w.report(false, "$", tk, "a journey file is a set of key: value lines (id:, name:, stages:, ...), but this one holds %s; see journeys/b2b-nurture.yaml for a complete journey", describeNode(body))
		return w
	}
	w.walk("$", body, reflect.TypeOf(Journey{}))
	return w
}

func (w *shapeWalker) report(warning bool, path string, tk *token.Token, format string, args ...any) {
	p := Problem{File: w.file, Line: 1, Column: 1, Message: fmt.Sprintf(format, args...), Warning: warning}
	if tk != nil && tk.Position != nil {
		p.Line, p.Column = tk.Position.Line, tk.Position.Column
	} else if at, ok := w.pos.value[path]; ok {
		p.Line, p.Column = at.Line, at.Column
	}
	if !warning {
		// Marked at every use of an aliased value, listed once.
		w.shaky[path] = true
		w.shaky[parent(path)] = true
	}
	if w.reported[p] {
		return
	}
	w.reported[p] = true
	if warning {
		w.warnings = append(w.warnings, p)
	} else {
		w.problems = append(w.problems, p)
	}
}

func (w *shapeWalker) record(path string, node ast.Node) {
	if _, ok := w.pos.value[path]; ok {
		return
	}
	tk := node.GetToken()
	if tk == nil || tk.Position == nil {
		return
	}
	sp := spot{Line: tk.Position.Line, Column: tk.Position.Column}
	switch n := node.(type) {
	case *ast.LiteralNode:
		sp.Literal = n.Start != nil && n.Start.Type == token.LiteralType
	case *ast.StringNode:
		// A plain value over several lines is folded into one.
		sp.Plain = tk.Type == token.StringType && !strings.Contains(strings.TrimSpace(tk.Origin), "\n")
	}
	w.pos.value[path] = sp
}

// walk checks node against t and reports whether it may stay in the tree;
// when it may not, its container replaces it with null.
func (w *shapeWalker) walk(path string, node ast.Node, t reflect.Type) bool {
	if node == nil {
		return true
	}
	w.record(path, node)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := node.(type) {
	case *ast.DocumentNode:
		return w.walk(path, n.Body, t)
	case *ast.AnchorNode:
		if !w.walk(path, n.Value, t) {
			n.Value = nullAt(n.Value)
		}
		// Defined once its value is walked: an alias inside the value it
		// names would be a loop, and is reported as naming no anchor.
		if n.Name != nil {
			w.anchors[n.Name.GetToken().Value] = n.Value
		}
		return true
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.GetToken().Value
		}
		target, ok := w.anchors[name]
		if !ok {
			w.report(false, path, n.GetToken(), "the alias *%s refers to no anchor &%s above it; define the anchor first (aliases only look back)", shorten(name), shorten(name))
			return false
		}
		return w.walk(path, target, t)
	case *ast.TagNode:
		tag := ""
		if n.Start != nil {
			tag = n.Start.Value
		}
		w.report(false, path, n.GetToken(), "journey files do not use YAML tags like %s; remove it (put a value in quotes to keep it as text)", shorten(tag))
		return false
	case *ast.NullNode:
		return true // the zero value: validation says when one is needed
	case *ast.SequenceNode:
		if t.Kind() != reflect.Slice {
			w.wrongKind(path, n, t)
			return false
		}
		for i, v := range n.Values {
			if !w.walk(fmt.Sprintf("%s[%d]", path, i), v, t.Elem()) {
				n.Values[i] = nullAt(v)
			}
		}
		return true
	case *ast.MappingValueNode:
		// A mapping with one key can come as a lone key-value node.
		if t.Kind() != reflect.Map && t.Kind() != reflect.Struct {
			w.wrongKind(path, n, t)
			return false
		}
		// A lone pair cannot grow: a lone merge stays as it is, which
		// the decoder reads.
		w.mapping(path, []*ast.MappingValueNode{n}, t)
		return true
	case *ast.MappingNode:
		if t.Kind() != reflect.Map && t.Kind() != reflect.Struct {
			w.wrongKind(path, n, t)
			return false
		}
		n.Values = w.mapping(path, n.Values, t)
		return true
	}
	return w.scalar(path, node, t)
}

// mapping checks the keys and values of a mapping, and returns its pairs
// less the repeated keys, which the decoder would refuse.
func (w *shapeWalker) mapping(path string, values []*ast.MappingValueNode, t reflect.Type) []*ast.MappingValueNode {
	var fields map[string]reflect.Type
	if t.Kind() == reflect.Struct {
		fields = yamlFields(t)
	}
	seen := map[string]token.Position{}
	var merges []ast.Node
	kept := values[:0:0]
	for _, v := range values {
		if v.Key == nil {
			continue
		}
		if v.Key.IsMergeKey() {
			merges = append(merges, v.Value)
			continue
		}
		tk := v.Key.GetToken()
		if !isPlainKey(v.Key) || tk == nil {
			w.report(false, path, v.Key.GetToken(), "a key must be a plain name, like wait or email_click")
			continue
		}
		key := tk.Value
		if first, ok := seen[key]; ok {
			w.report(false, path, tk, "the key %q is written twice here (first at line %d); keep one", shorten(key), first.Line)
			continue
		}
		kept = append(kept, v)
		seen[key] = *tk.Position
		w.pos.key[path+"."+key] = spot{Line: tk.Position.Line, Column: tk.Position.Column}
		w.entry(path, key, tk, v, fields, t)
	}
	// A merge (<<: *defaults) brings in the keys of the mappings it names
	// that the mapping does not set itself. They are copied into the
	// mapping, in place of the merge: the decoder refuses a key that is
	// both merged and set ("duplicate key"), which YAML allows.
	for _, m := range merges {
		for _, mv := range w.mergeSources(path, m) {
			if mv.Key == nil || mv.Key.IsMergeKey() || mv.Key.GetToken() == nil {
				continue
			}
			tk := mv.Key.GetToken()
			if _, ok := seen[tk.Value]; ok {
				continue
			}
			seen[tk.Value] = *tk.Position
			w.entry(path, tk.Value, tk, mv, fields, t)
			kept = append(kept, mv)
		}
	}
	return kept
}

// entry checks one key and its value.
func (w *shapeWalker) entry(path, key string, tk *token.Token, v *ast.MappingValueNode, fields map[string]reflect.Type, t reflect.Type) {
	child := path + "." + key
	if t.Kind() == reflect.Map {
		if !w.walk(child, v.Value, t.Elem()) {
			v.Value = nullAt(v.Value)
		}
		return
	}
	f, ok := fields[key]
	if !ok {
		msg := fmt.Sprintf("unknown key %q", shorten(key))
		if near := nearest(key, fields); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		} else {
			msg += fmt.Sprintf("; known keys here: %s", strings.Join(sortedNames(fields), ", "))
		}
		w.report(false, path, tk, "%s", msg)
		return
	}
	if !w.walk(child, v.Value, f) {
		v.Value = nullAt(v.Value)
	}
}

// mergeSources returns the key-value pairs a merge key brings in: from an
// alias of a mapping, or a list of them.
func (w *shapeWalker) mergeSources(path string, n ast.Node) []*ast.MappingValueNode {
	switch n := n.(type) {
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.GetToken().Value
		}
		target, ok := w.anchors[name]
		if !ok {
			w.report(false, path, n.GetToken(), "the alias *%s refers to no anchor &%s above it; define the anchor first (aliases only look back)", shorten(name), shorten(name))
			return nil
		}
		return w.mergeSources(path, target)
	case *ast.AnchorNode:
		return w.mergeSources(path, n.Value)
	case *ast.MappingNode:
		return n.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{n}
	case *ast.SequenceNode:
		var out []*ast.MappingValueNode
		for _, v := range n.Values {
			out = append(out, w.mergeSources(path, v)...)
		}
		return out
	}
	w.report(false, path, n.GetToken(), "<< merges mappings: give it an alias of a mapping (<<: *defaults) or a list of them")
	return nil
}

// scalar checks a single value against the Go type it decodes into. It
// accepts what the decoder reads correctly, and reports what it would
// refuse or quietly change: goccy/go-yaml truncates 2.5 to 2 in an int.
func (w *shapeWalker) scalar(path string, node ast.Node, t reflect.Type) bool {
	tk := node.GetToken()
	switch t.Kind() {
	case reflect.String:
		switch n := node.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			// The decoder writes the number back as text, which may not be
			// what was written: 017 is octal, 1_000 loses its underscore.
			v := n.(ast.ScalarNode).GetValue()
			if as := fmt.Sprint(v); as != tk.Value {
				w.report(true, path, tk, "%s: %s is read as %s; put it in quotes (\"%s\") to keep it as written", label(path), tk.Value, as, tk.Value)
			}
		case *ast.InfinityNode, *ast.NanNode, *ast.StringNode, *ast.LiteralNode:
		default:
			w.wrongKind(path, node, t)
			return false
		}
		return true
	case reflect.Bool:
		if _, ok := node.(*ast.BoolNode); ok {
			return true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		msg, ok := wholeNumber(node)
		if ok {
			return true
		}
		if msg != "" {
			w.report(false, path, tk, "%s: %s", label(path), msg)
			return false
		}
	case reflect.Float32, reflect.Float64:
		switch n := node.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
			return true
		case *ast.StringNode:
			if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return true
			}
		}
	}
	w.wrongKind(path, node, t)
	return false
}

// wholeNumber says whether a value reads as a whole number, and when it does
// not but is a number, what is wrong with it.
func wholeNumber(node ast.Node) (string, bool) {
	text := ""
	switch n := node.(type) {
	case *ast.IntegerNode:
		if u, ok := n.Value.(uint64); ok && u > math.MaxInt64 {
			return fmt.Sprintf("%s is too large for a whole number here", n.Token.Value), false
		}
		return "", true
	case *ast.FloatNode:
		text = n.Token.Value
	case *ast.StringNode:
		// The decoder reads a quoted "90" as 90.
		text = n.Value
	default:
		return "", false
	}
	clean := strings.ReplaceAll(text, "_", "")
	if _, err := strconv.ParseInt(clean, 0, 64); err == nil {
		return "", true
	} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return fmt.Sprintf("%s is too large for a whole number here", shorten(text)), false
	}
	f, err := strconv.ParseFloat(clean, 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		return "", false
	case f != math.Trunc(f):
		return fmt.Sprintf("expected a whole number, got %s", shorten(text)), false
	case math.Abs(f) > 1<<53:
		return fmt.Sprintf("%s is too large for a whole number here", shorten(text)), false
	}
	return "", true
}

func (w *shapeWalker) wrongKind(path string, node ast.Node, t reflect.Type) {
	msg := fmt.Sprintf("%s: expected %s, got %s", label(path), wantKind(t), describeNode(node))
	if t.Kind() == reflect.Slice && !isMapping(node) {
		msg += "; write [a, b] for a list, or one item per line starting with \"- \""
	}
	w.report(false, path, node.GetToken(), "%s", msg)
}

// wantKind names, in a marketer's words, what a Go type takes. The named
// string types of the journey language get their own words, so the
// message says what would be right.
func wantKind(t reflect.Type) string {
	switch t {
	case reflect.TypeOf(lead.EventType("")):
		return "an event type (like email_click)"
	case reflect.TypeOf(span.Duration("")):
		return "a duration (like 3d)"
	case reflect.TypeOf(scoring.Axis("")):
		return "interest or intent"
	case reflect.TypeOf(ContentErrorPolicy("")):
		return "exit or skip"
	}
	switch t.Kind() {
	case reflect.String:
		return "a single value"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	}
	return "key: value lines"
}

// describeNode says what a value is, quoting it when it is short.
func describeNode(n ast.Node) string {
	switch n := n.(type) {
	case *ast.AnchorNode:
		return describeNode(n.Value)
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "key: value lines"
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.StringNode:
		return strconv.Quote(shorten(n.Value))
	case *ast.TagNode:
		return "a tagged value"
	case *ast.AliasNode:
		return "an alias"
	case nil:
		return "nothing"
	}
	if tk := n.GetToken(); tk != nil {
		return shorten(tk.Value)
	}
	return "a value"
}

// label names the place a path points at, for the start of a message:
// min_score, or events item 2.
func label(path string) string {
	if path == "$" {
		return "the journey"
	}
	if strings.HasSuffix(path, "]") {
		i := strings.LastIndexByte(path, '[')
		n, _ := strconv.Atoi(path[i+1 : len(path)-1])
		return fmt.Sprintf("%s item %d", label(path[:i]), n+1)
	}
	return path[strings.LastIndexByte(path, '.')+1:]
}

func isMapping(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	case *ast.AnchorNode:
		return isMapping(n.Value)
	}
	return false
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

func isPlainKey(k ast.MapKeyNode) bool {
	switch k.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		return true
	}
	return false
}

// nullAt is a null to put where a value of the wrong kind was, at its place.
func nullAt(n ast.Node) ast.Node {
	var pos *token.Position
	if n != nil && n.GetToken() != nil {
		pos = n.GetToken().Position
	}
	if pos == nil {
		pos = &token.Position{Line: 1, Column: 1}
	}
	return ast.Null(&token.Token{Type: token.NullType, Value: "null", Origin: "null", Position: pos})
}

// yamlFields maps a struct's YAML key names to field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedNames(fields map[string]reflect.Type) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// nearest returns the known key closest to a typo, if it is close.
func nearest(key string, fields map[string]reflect.Type) string {
	return nearestOf(key, sortedNames(fields))
}

// nearestOf returns the name closest to a typo, if it is close. A long typo
// is no typo: its distance is not worth computing.
func nearestOf(key string, names []string) string {
	if len(key) > 2*MaxKeyLength {
		return ""
	}
	best, bestDist := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// shorten cuts a value quoted in a message, so that a 500 KB line in the
// file does not become a 500 KB message (once for each alias of it).
func shorten(s string) string { return cut(s, 60) }

// cut keeps at most n bytes of s, on a character boundary, and marks the
// cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
