package journeys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Problem is one mistake in a journey file, with where it is.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

// Problems is every mistake found in a file, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and validates a journey file, and returns its source too:
// the source is what gets published.
func LoadFile(path string) (*Journey, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read journey: %w", err)
	}
	j, err := Parse(path, data)
	return j, data, err
}

// Parse decodes and validates a journey. The error, when not nil, is a
// Problems listing every mistake with its line and column.
func Parse(file string, data []byte) (*Journey, error) {
	tree, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	v := &validator{file: file, tree: tree}
	if len(tree.Docs) > 0 {
		v.problems, v.unknownAt = unknownKeys(file, tree.Docs[0], reflect.TypeOf(Journey{}))
	}
	var j Journey
	if err := decode(data, &j); err != nil {
		// A value of the wrong type leaves the rest undecoded: report it
		// with the unknown keys, but do not check meaning on half a journey.
		v.problems = append(v.problems, yamlProblem(file, err))
		v.sort()
		return nil, v.problems
	}
	v.journey(&j)
	if len(v.problems) > 0 {
		v.sort()
		return nil, v.problems
	}
	return &j, nil
}

// decode decodes a journey, turning a panic inside the YAML decoder into an
// error: goccy/go-yaml v1.19.2 dereferences nil on some malformed input
// (an empty tag, "stages: ! "), found by FuzzParse; no file may crash the
// loader.
func decode(data []byte, j *Journey) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser could not read this file (%v); look for an empty tag (a lone !) or other unusual syntax", r)
		}
	}()
	return yaml.NewDecoder(bytes.NewReader(data)).Decode(j)
}

func yamlProblem(file string, err error) Problem {
	var yerr yaml.Error
	if errors.As(err, &yerr) && yerr.GetToken() != nil {
		pos := yerr.GetToken().Position
		msg := yerr.GetMessage()
		return Problem{File: file, Line: pos.Line, Column: pos.Column, Message: msg}
	}
	return Problem{File: file, Line: 1, Column: 1, Message: err.Error()}
}

// position finds the line and column of the node at a YAML path like
// $.stages[0].steps[2].wait, falling back to its nearest parent that exists
// (a missing key is reported where it should have been).
func position(tree *ast.File, path string) (int, int) {
	for path != "" {
		if p, err := yaml.PathString(path); err == nil {
			if node, err := p.FilterFile(tree); err == nil && node != nil {
				tk := node.GetToken()
				if tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		path = parent(path)
	}
	return 1, 1
}

// keyPosition finds where a key of the mapping at path is written, for
// mistakes in the key itself (an unknown event type in a points table).
func keyPosition(tree *ast.File, path, key string) (int, int) {
	if p, err := yaml.PathString(path); err == nil {
		if node, err := p.FilterFile(tree); err == nil {
			if m, ok := node.(*ast.MappingNode); ok {
				for _, v := range m.Values {
					if tk := v.Key.GetToken(); tk != nil && tk.Value == key {
						return tk.Position.Line, tk.Position.Column
					}
				}
			}
		}
	}
	return position(tree, path)
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
