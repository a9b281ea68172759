package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/golden"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeys/schema"
)

// TestSchemaGolden keeps the shipped schema in step with the types:
// go test ./journeys -run Schema -update rewrites it.
func TestSchemaGolden(t *testing.T) {
	got, err := schema.Generate()
	require.NoError(t, err)
	require.True(t, json.Valid(got))
	require.True(t, bytes.HasSuffix(got, []byte("}\n")), "schema ends in a newline")
	golden.Check(t, "../journey.schema.json", got)
}

// compileSchema compiles Schema() with a real validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := schema.Generate()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(schema.ID, doc))
	sch, err := c.Compile(schema.ID)
	require.NoError(t, err)
	return sch
}

// yamlInstance turns a journey file into the JSON value a validator checks.
func yamlInstance(t *testing.T, src []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(toJSON(t, src)))
	require.NoError(t, err)
	return v
}

func TestSchemaAcceptsShippedJourneys(t *testing.T) {
	sch := compileSchema(t)
	names, err := fs.Glob(journeys.Shipped(), "*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			src, err := fs.ReadFile(journeys.Shipped(), name)
			require.NoError(t, err)
			require.NoError(t, sch.Validate(yamlInstance(t, src)))
		})
	}
}

func TestSchemaRejectsMistakes(t *testing.T) {
	sch := compileSchema(t)
	src, err := fs.ReadFile(journeys.Shipped(), "b2b-nurture.yaml")
	require.NoError(t, err)

	// firstStep finds the path of the first step with the key.
	firstStep := func(j map[string]any, key string) (map[string]any, string) {
		for si, st := range j["stages"].([]any) {
			for ti, s := range st.(map[string]any)["steps"].([]any) {
				if step := s.(map[string]any); step[key] != nil {
					return step, fmt.Sprintf("/stages/%d/steps/%d", si, ti)
				}
			}
		}
		t.Fatalf("no step with %s", key)
		return nil, ""
	}
	events := func(j map[string]any) map[string]any {
		return j["scoring"].(map[string]any)["events"].(map[string]any)
	}

	for _, tc := range []struct {
		name string
		// edit makes the mistake and returns where it is: the JSON pointer
		// of the value, or for a key that propertyNames rejects, the
		// schema location of that propertyNames.
		edit func(j map[string]any) string
		want []string
		// key is set when propertyNames rejects this key. The validator
		// then names the key but reports a wrong instance location (it
		// keeps a slice a sibling overwrites; santhosh-tekuri/jsonschema
		// issue #258, PR #269), so the location checked is the schema's.
		key string
	}{{
		name: "unknown top-level key",
		edit: func(j map[string]any) string { j["sned"] = "x"; return "" },
		want: []string{"additional properties 'sned' not allowed"},
	}, {
		name: "unknown event type in scoring events",
		edit: func(j map[string]any) string {
			events(j)["page_veiw"] = map[string]any{"points": 1, "axis": "interest"}
			return "#/$defs/Model/properties/events/propertyNames"
		},
		want: []string{"invalid propertyName 'page_veiw'", "'page_view'"},
		key:  "page_veiw",
	}, {
		name: "unknown event type in wait_for on",
		edit: func(j map[string]any) string {
			step, _ := firstStep(j, "wait_for")
			step["wait_for"].(map[string]any)["on"] = map[string]any{"email_clik": "send-webinar"}
			return "#/$defs/WaitFor/properties/on/propertyNames"
		},
		want: []string{"invalid propertyName 'email_clik'"},
		key:  "email_clik",
	}, {
		name: "duration in words",
		edit: func(j map[string]any) string {
			step, path := firstStep(j, "wait")
			step["wait"] = "3 days"
			return path + "/wait"
		},
		want: []string{"'3 days' does not match pattern"},
	}, {
		name: "unknown axis",
		edit: func(j map[string]any) string {
			events(j)["page_view"].(map[string]any)["axis"] = "interst"
			return "/scoring/events/page_view/axis"
		},
		want: []string{"value must be one of 'interest', 'intent'"},
	}, {
		name: "step of two kinds",
		edit: func(j map[string]any) string {
			step, path := firstStep(j, "send")
			step["wait"] = "1d"
			return path
		},
		want: []string{"oneOf"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var j map[string]any
			require.NoError(t, json.Unmarshal(toJSON(t, src), &j))
			at := tc.edit(j)
			edited, err := json.Marshal(j)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(edited))
			require.NoError(t, err)

			err = sch.Validate(inst)
			require.Error(t, err)
			var verr *jsonschema.ValidationError
			require.True(t, errors.As(err, &verr), "%T", err)
			msg := err.Error()
			t.Log(msg)
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
			if tc.key != "" {
				require.Contains(t, propertyNameErrors(verr), tc.key+" "+schema.ID+at)
				return
			}
			require.Contains(t, msg, fmt.Sprintf("at '%s'", at), "the error points at the mistake")
			require.Contains(t, leafLocations(verr), at, "the innermost error is at the mistake")
		})
	}
}

// propertyNameErrors lists the keys propertyNames rejected, each with the
// schema location that rejected it.
func propertyNameErrors(e *jsonschema.ValidationError) []string {
	var out []string
	if k, ok := e.ErrorKind.(*kind.PropertyNames); ok {
		out = append(out, k.Property+" "+e.SchemaURL)
	}
	for _, c := range e.Causes {
		out = append(out, propertyNameErrors(c)...)
	}
	return out
}

func toJSON(t *testing.T, src []byte) []byte {
	t.Helper()
	js, err := yaml.YAMLToJSON(src)
	require.NoError(t, err)
	return js
}

// leafLocations lists the instance locations of the innermost errors, as
// JSON pointers.
func leafLocations(e *jsonschema.ValidationError) []string {
	if len(e.Causes) == 0 {
		if len(e.InstanceLocation) == 0 {
			return []string{""}
		}
		return []string{"/" + strings.Join(e.InstanceLocation, "/")}
	}
	var out []string
	for _, c := range e.Causes {
		out = append(out, leafLocations(c)...)
	}
	return out
}

// TestSchemaDurationPattern checks that the schema's duration pattern
// accepts exactly what ParseDuration does.
func TestSchemaDurationPattern(t *testing.T) {
	data, err := schema.Generate()
	require.NoError(t, err)
	var s struct {
		Defs map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(data, &s))
	pattern := regexp.MustCompile(s.Defs["Duration"].Pattern)

	for _, in := range []string{
		"3d", "2w", "36h", "1w3d", "90m", "45s", "1w2d3h4m5s", "0d1h", "00010m", " 3d ", "\t2w",
		"", " ", "0d", "0w0d", "00m", "3", "d", "3 days", "3D", "3d ", "1.5h", "-3d", "+3d",
		"3dd", "d3", "1y", "3d2", "1h 30m", "1h30", "١d",
	} {
		_, perr := journeys.ParseDuration(in)
		require.Equal(t, perr == nil, pattern.MatchString(in), "%q: ParseDuration error %v", in, perr)
	}

	// And every string up to five characters over an alphabet that mixes
	// digits, units, space and other letters.
	const alphabet = "019dwms x"
	var all func(prefix string, n int)
	all = func(prefix string, n int) {
		_, perr := journeys.ParseDuration(prefix)
		if (perr == nil) != pattern.MatchString(prefix) {
			t.Fatalf("%q: pattern says %v, ParseDuration error %v", prefix, pattern.MatchString(prefix), perr)
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			all(prefix+string(c), n-1)
		}
	}
	all("", 5)
}
