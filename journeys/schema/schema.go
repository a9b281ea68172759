// Package schema generates the JSON Schema of journey files from the Go
// types the loader decodes into, so editors autocomplete and underline the
// same language `starter validate` checks. It is tooling: the worker does not
// link it.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// ID is the $id of the journey file schema.
const ID = "https://nurture.dev/schemas/journey.schema.json"

// durationPattern matches exactly the strings ParseDuration accepts (but
// for numbers too large for it): surrounding space, then number+unit pairs
// with units w, d, h, m, s, at least one of them not zero.
const durationPattern = `^\s*([0-9]+[wdhms])*0*[1-9][0-9]*[wdhms]([0-9]+[wdhms])*\s*$`

var (
	journeyType   = reflect.TypeOf(journeys.Journey{})
	durationType  = reflect.TypeOf(journeys.Duration(""))
	eventTypeType = reflect.TypeOf(lead.EventType(""))
	axisType      = reflect.TypeOf(scoring.Axis(""))
	policyType    = reflect.TypeOf(journeys.ContentErrorPolicy(""))
)

// scoringComments describe the scoring package's types, whose source is not
// at hand here; keep them in step with scoring.go.
var scoringComments = map[string]string{
	"Model":            "The scoring model: points per engagement, and the score at which a lead becomes an MQL.",
	"Model.MQL":        "mql is the score at which a lead becomes a Marketing Qualified Lead.",
	"Model.Events":     "events gives the points per engagement type.",
	"EventRule":        "EventRule scores one engagement type.",
	"EventRule.Points": "points the engagement adds to the score (negative takes them away).",
	"EventRule.Axis":   "axis says what the engagement shows: interest (it reads) or intent (it is getting ready to buy).",
}

// Generate returns the JSON Schema of journey files, indented, ending in a newline.
func Generate() ([]byte, error) {
	comments, err := goComments(journeys.TypesSource())
	if err != nil {
		return nil, fmt.Errorf("journey schema: read doc comments: %w", err)
	}
	r := &jsonschema.Reflector{
		FieldNameTag:   "yaml", // keys as written in journey files; no omitempty means required
		ExpandedStruct: true,   // the root is the journey itself, not a $ref to it
		Anonymous:      true,   // the $id is set below
		Mapper:         mapType,
		LookupComment: func(t reflect.Type, field string) string {
			key := t.Name()
			if field != "" {
				key += "." + field
			}
			switch t.PkgPath() {
			case journeyType.PkgPath():
				return comments[key]
			case axisType.PkgPath():
				return scoringComments[key]
			}
			return ""
		},
	}
	s := r.Reflect(&journeys.Journey{})
	s.ID = ID
	s.Title = "Nurture journey"
	s.Description = "A lead-nurture journey: buying stages with their steps, the content they send, the scoring model and when a lead goes to sales. Checked in full by `starter validate`; this schema gives editors completion and underlines."

	defs := s.Definitions
	defs["Duration"] = &jsonschema.Schema{
		Type:        "string",
		Pattern:     durationPattern,
		Description: "A span: one or more number+unit pairs, units w (weeks), d (days), h (hours), m (minutes), s (seconds); a day is 24h, a week 7d. Like 36h, 3d, 2w, 1w3d or 90m.",
		Examples:    []any{"3d", "2w", "36h", "1w3d", "90m"},
	}
	events := lead.KnownEventTypes()
	enum := make([]any, len(events))
	described := make([]any, len(events))
	for i, t := range events {
		enum[i] = string(t)
		described[i] = t.Describe()
	}
	defs["EventType"] = &jsonschema.Schema{
		Type:        "string",
		Enum:        enum,
		Description: "An engagement type from nurture's vocabulary.",
		// Shown next to each value by VS Code and the YAML extension.
		Extras: map[string]any{"enumDescriptions": described},
	}
	defs["Axis"] = &jsonschema.Schema{
		Type:        "string",
		Enum:        []any{string(scoring.Interest), string(scoring.Intent)},
		Description: "What a behaviour says about a lead: interest (it reads) or intent (it is getting ready to buy).",
		Extras: map[string]any{"enumDescriptions": []any{
			"the lead reads and listens",
			"the lead is getting ready to buy; intent rules carry more points",
		}},
	}
	defs["ContentErrorPolicy"] = &jsonschema.Schema{
		Type:        "string",
		Enum:        []any{string(journeys.ContentErrorExit), string(journeys.ContentErrorSkip)},
		Description: "What happens to a lead whose email cannot be rendered for it.",
		Extras: map[string]any{"enumDescriptions": []any{
			"the lead leaves the journey, counted as content_error (the default)",
			"the email is skipped and the lead goes on",
		}},
	}

	if err := restrictEventKeys(s, reflect.TypeOf(journeys.Journey{}), map[reflect.Type]bool{}); err != nil {
		return nil, fmt.Errorf("journey schema: %w", err)
	}

	// A step does exactly one thing: exactly one of the kind keys is present.
	step := defs["Step"]
	if step == nil {
		return nil, fmt.Errorf("journey schema: no Step definition")
	}
	var kinds []string
	for _, k := range journeys.StepKinds() {
		if _, ok := step.Properties.Get(string(k)); !ok {
			return nil, fmt.Errorf("journey schema: step kind %q is not a key of Step", k)
		}
		step.OneOf = append(step.OneOf, &jsonschema.Schema{Required: []string{string(k)}})
		kinds = append(kinds, string(k))
	}
	step.Description += " The kinds: " + strings.Join(kinds, ", ") + "."

	// Content needs an html or a text body, not both (validation says
	// "better both"), though neither key says omitempty.
	content := defs["Content"]
	if content == nil {
		return nil, fmt.Errorf("journey schema: no Content definition")
	}
	var required []string
	for _, k := range content.Required {
		if k != "html" && k != "text" {
			required = append(required, k)
		}
	}
	content.Required = required
	content.AnyOf = []*jsonschema.Schema{{Required: []string{"html"}}, {Required: []string{"text"}}}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("journey schema: %w", err)
	}
	return buf.Bytes(), nil
}

// mapType gives the string types with a vocabulary or syntax their own
// definitions (added in Schema); a fresh schema each time, since the
// reflector writes the field's description into it.
func mapType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case durationType:
		return &jsonschema.Schema{Ref: "#/$defs/Duration"}
	case eventTypeType:
		return &jsonschema.Schema{Ref: "#/$defs/EventType"}
	case axisType:
		return &jsonschema.Schema{Ref: "#/$defs/Axis"}
	case policyType:
		return &jsonschema.Schema{Ref: "#/$defs/ContentErrorPolicy"}
	}
	return nil
}

// restrictEventKeys walks the types reachable from t and, for every map
// keyed by event type, restricts the keys of its schema to the vocabulary.
func restrictEventKeys(s *jsonschema.Schema, t reflect.Type, seen map[reflect.Type]bool) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	def := s.Definitions[t.Name()]
	if t == reflect.TypeOf(journeys.Journey{}) {
		def = s // the root, expanded
	}
	if def == nil {
		return fmt.Errorf("no definition for %s", t)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Map && ft.Key() == eventTypeType {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			prop, ok := def.Properties.Get(name)
			if !ok {
				return fmt.Errorf("%s has no property %q", t, name)
			}
			prop.PropertyNames = &jsonschema.Schema{Ref: "#/$defs/EventType"}
		}
		if err := restrictEventKeys(s, f.Type, seen); err != nil {
			return err
		}
	}
	return nil
}

// goComments maps "Type" and "Type.Field" to the doc comments in src, with
// lines joined into paragraphs and the struct's Go field names replaced by
// their YAML keys ("TimeZone is ..." → "time_zone is ...").
func goComments(src string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "journey.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			keys := wordReplacer(nil) // no fields to rename unless a struct
			fields := map[string]string{}
			st, isStruct := ts.Type.(*ast.StructType)
			if isStruct {
				var pairs []string
				for _, field := range st.Fields.List {
					text := field.Doc.Text()
					if text == "" {
						text = field.Comment.Text()
					}
					key := ""
					if field.Tag != nil {
						key, _, _ = strings.Cut(reflect.StructTag(strings.Trim(field.Tag.Value, "`")).Get("yaml"), ",")
					}
					for _, name := range field.Names {
						if key != "" && key != "-" {
							pairs = append(pairs, name.Name, key)
						}
						if text != "" {
							fields[name.Name] = text
						}
					}
				}
				keys = wordReplacer(pairs)
			}
			if c := keys(paragraphs(doc.Text())); c != "" {
				out[ts.Name.Name] = c
			}
			for name, text := range fields {
				out[ts.Name.Name+"."+name] = keys(paragraphs(text))
			}
		}
	}
	return out, nil
}

// wordReplacer returns a func that replaces whole words: old, new pairs.
func wordReplacer(pairs []string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return func(s string) string {
		return wordPattern.ReplaceAllStringFunc(s, func(w string) string {
			if k, ok := m[w]; ok {
				return k
			}
			return w
		})
	}
}

var wordPattern = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\b`)

// paragraphs unwraps a comment's lines, keeping blank-line paragraph breaks.
func paragraphs(text string) string {
	var ps []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			ps = append(ps, p)
		}
	}
	return strings.Join(ps, "\n\n")
}
