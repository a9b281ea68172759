package journeys

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// unknownKeys walks the YAML tree beside the Go type it decodes into and
// reports every key the type does not have, with its position and the
// nearest known key. The decoder's own strict mode stops at the first; a
// marketer wants them all at once.
//
// It also returns the YAML paths of the mappings that had unknown keys, so
// validation does not pile a consequence ("step does nothing") on the typo.
func unknownKeys(file string, node ast.Node, t reflect.Type) (Problems, map[string]bool) {
	w := keyWalker{file: file, at: map[string]bool{}}
	w.walk("$", node, t)
	return w.problems, w.at
}

type keyWalker struct {
	file     string
	problems Problems
	at       map[string]bool
}

func (w *keyWalker) walk(path string, node ast.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := node.(type) {
	case nil:
		return
	case *ast.DocumentNode:
		w.walk(path, n.Body, t)
	case *ast.AnchorNode:
		w.walk(path, n.Value, t)
	case *ast.TagNode:
		w.walk(path, n.Value, t)
	case *ast.SequenceNode:
		if t.Kind() == reflect.Slice {
			for i, v := range n.Values {
				w.walk(fmt.Sprintf("%s[%d]", path, i), v, t.Elem())
			}
		}
	case *ast.MappingValueNode:
		// A mapping with one key can come as a lone key-value node.
		w.mapping(path, []*ast.MappingValueNode{n}, t)
	case *ast.MappingNode:
		w.mapping(path, n.Values, t)
	}
}

func (w *keyWalker) mapping(path string, values []*ast.MappingValueNode, t reflect.Type) {
	switch t.Kind() {
	case reflect.Map:
		for _, v := range values {
			if tk := v.Key.GetToken(); tk != nil {
				w.walk(path+"."+tk.Value, v.Value, t.Elem())
			}
		}
	case reflect.Struct:
		fields := yamlFields(t)
		for _, v := range values {
			tk := v.Key.GetToken()
			if tk == nil {
				continue
			}
			f, ok := fields[tk.Value]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", tk.Value)
				if near := nearest(tk.Value, fields); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				} else {
					msg += fmt.Sprintf("; known keys here: %s", strings.Join(sortedNames(fields), ", "))
				}
				w.problems = append(w.problems, Problem{File: w.file, Line: tk.Position.Line, Column: tk.Position.Column, Message: msg})
				w.at[path] = true
				continue
			}
			w.walk(path+"."+tk.Value, v.Value, f)
		}
	}
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
	best, bestDist := "", 3
	for _, n := range sortedNames(fields) {
		if d := editDistance(key, n); d < bestDist {
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
