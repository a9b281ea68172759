package journeys

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Problem is one mistake in a journey file, with where it is. A warning is
// worth a look but does not stop the journey from being published.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
	Warning bool
}

func (p Problem) String() string {
	if p.Warning {
		return fmt.Sprintf("%s:%d:%d: warning: %s", p.File, p.Line, p.Column, p.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

// Problems is every mistake found in a file, in file order; past MaxListed
// the last one says how many more there are.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Options tune a check.
type Options struct {
	// Now is the present, for the checks that depend on it: a wait_until
	// date in the past. The zero time skips them, which is what Parse does:
	// a journey that loaded yesterday must load today, in a worker or a
	// test, so only the commands a marketer runs (validate, publish) pass
	// the clock.
	Now time.Time
}

// LoadFile reads and validates a journey file, and returns its source too:
// the source is what gets published, with any byte order mark removed and
// line endings made LF, so the content hash does not depend on the editor.
func LoadFile(path string) (*Journey, []byte, error) {
	j, src, _, err := CheckFile(path, Options{})
	return j, src, err
}

// CheckFile is LoadFile with options, and returns the warnings too.
func CheckFile(path string, opts Options) (*Journey, []byte, Problems, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	return check(path, data, opts)
}

// Parse decodes and validates a journey. The error, when not nil, is a
// Problems listing every mistake with its line and column. Warnings are
// not returned; Check returns them.
func Parse(file string, data []byte) (*Journey, error) {
	j, _, err := Check(file, data, Options{})
	return j, err
}

// Check decodes and validates a journey, and returns it with its warnings,
// or the Problems that stop it (with the warnings found so far). However malformed or hostile the file, it
// returns in bounded time and memory (see MaxFileSize and the limits after
// it), with every mistake it can find.
func Check(file string, data []byte, opts Options) (*Journey, Problems, error) {
	j, _, warnings, err := check(file, data, opts)
	return j, warnings, err
}

func check(file string, data []byte, opts Options) (*Journey, []byte, Problems, error) {
	src, errs := normalise(file, data)
	if src == nil {
		return nil, nil, nil, errs
	}
	// Warnings found before an error stops the check are returned with it:
	// a marketer fixing the file wants to see them too.
	var warnings Problems
	fail := func(ps ...Problem) (*Journey, []byte, Problems, error) {
		return nil, src, listed(warnings), listed(append(errs, ps...))
	}
	tree, p := parseYAML(file, src)
	if p != nil {
		return fail(*p)
	}
	var docs []*ast.DocumentNode
	for _, d := range tree.Docs {
		if _, directive := d.Body.(*ast.DirectiveNode); !directive {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 || docs[0].Body == nil || isNull(docs[0].Body) {
		return fail(Problem{File: file, Line: 1, Column: 1, Message: "the file is empty; a journey needs at least an id, a name, a scoring model, a handoff rule, stages with steps and the content they send; start from journeys/b2b-nurture.yaml"})
	}
	if len(docs) > 1 {
		tk := docs[1].Start
		if tk == nil && docs[1].Body != nil {
			tk = docs[1].Body.GetToken()
		}
		line, col := 1, 1
		if tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, tk.Position.Column
		}
		errs = append(errs, Problem{File: file, Line: line, Column: col, Message: "a journey file holds one journey, but a second YAML document starts here (after ---); put the second journey in a file of its own, or remove this line"})
	}
	body := docs[0].Body
	if ps := checkExpansion(file, body); ps != nil {
		return fail(ps...)
	}
	shape := walkShape(file, body)
	errs = append(errs, shape.problems...)
	warnings = append(warnings, shape.warnings...)
	if !isMapping(body) {
		return fail() // the shape walk said what the file holds instead
	}
	var j Journey
	if err := decode(body, &j); err != nil {
		return fail(decodeProblem(file, err))
	}
	v := &validator{file: file, pos: shape.pos, shaky: shape.shaky, now: opts.Now, src: src}
	v.journey(&j)
	errs = append(errs, v.problems...)
	warnings = append(warnings, v.warnings...)
	if len(errs) > 0 {
		return fail()
	}
	return &j, src, listed(warnings), nil
}

// parseYAML turns the source into a tree, checking the limits on its tokens
// before the parser sees them.
func parseYAML(file string, src []byte) (tree *ast.File, p *Problem) {
	defer func() {
		if r := recover(); r != nil {
			tree, p = nil, &Problem{File: file, Line: 1, Column: 1, Message: "the YAML parser could not read this file; look for unusual syntax (a lone !, & or * without a name, stray brackets)"}
		}
	}()
	tokens, p := tokenize(file, string(src))
	if p != nil {
		return nil, p
	}
	// Duplicate keys are reported with everything else, by the shape walk.
	tree, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		sp := syntaxProblem(file, err)
		return nil, &sp
	}
	return tree, nil
}

// decode decodes a journey from its checked tree, turning a panic inside
// the YAML decoder into an error: goccy/go-yaml v1.19.2 dereferences nil on
// some malformed input (an empty tag, "stages: ! ", which the shape walk
// now removes first), found by FuzzParse; no file may crash the loader.
func decode(body ast.Node, j *Journey) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("the YAML reader failed on this file; look for unusual syntax (a lone !, & or * without a name)")
		}
	}()
	return yaml.NewDecoder(bytes.NewReader(nil)).DecodeFromNode(body, j)
}

// Merge lists several lists of problems (errors and warnings) as one, in
// file order, so that a marketer reads the file once from top to bottom.
func Merge(lists ...Problems) Problems {
	var all Problems
	for _, l := range lists {
		all = append(all, l...)
	}
	sortProblems(all)
	return all
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// listed sorts problems into file order and keeps the first MaxListed,
// saying how many more there are in a last one, at the first left out.
func listed(ps Problems) Problems {
	sortProblems(ps)
	if len(ps) <= MaxListed {
		return ps
	}
	next := ps[MaxListed]
	more := next
	more.Message = fmt.Sprintf("... and %d more; fix the ones above and validate again", len(ps)-MaxListed)
	return append(ps[:MaxListed:MaxListed], more)
}

// at is a problem at a token.
func at(file string, tk *token.Token, msg string) Problem {
	p := Problem{File: file, Line: 1, Column: 1, Message: msg}
	if tk != nil && tk.Position != nil && tk.Position.Line > 0 {
		p.Line, p.Column = tk.Position.Line, max(tk.Position.Column, 1)
	}
	return p
}

// position finds the line and column of the value at a YAML path like
// $.stages[0].steps[2].wait, falling back to its nearest parent that is
// written (a missing key is reported where it should have been).
func (ps positions) position(path string) (int, int) {
	for path != "" {
		if p, ok := ps.value[path]; ok {
			return p.Line, p.Column
		}
		path = parent(path)
	}
	return 1, 1
}

// keyPosition finds where a key of the mapping at path is written, for
// mistakes in the key itself (an unknown event type in a points table).
func (ps positions) keyPosition(path, key string) (int, int) {
	if p, ok := ps.key[path+"."+key]; ok {
		return p.Line, p.Column
	}
	return ps.position(path)
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i <= 1 {
		return ""
	}
	return path[:i]
}

// CheckRecycle checks that the journey a recycle rule names has the stage
// it names; find looks a journey up by ID (the files being published, then
// the published versions).
func (j *Journey) CheckRecycle(find func(id string) (*Journey, bool)) error {
	rc := j.Recycle
	if rc == nil || rc.Journey == "" || rc.Journey == j.ID {
		return nil
	}
	target, ok := find(rc.Journey)
	if !ok {
		return fmt.Errorf("journey %q recycles leads into journey %q, which is not published; publish it first or with it", j.ID, rc.Journey)
	}
	if rc.Stage != "" && !target.HasStage(rc.Stage) {
		return fmt.Errorf("journey %q recycles leads into stage %q of %q, which has no such stage", j.ID, rc.Stage, rc.Journey)
	}
	return nil
}
