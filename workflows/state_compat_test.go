package workflows_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/workflows"
)

// TestStateWrittenByEarlierVersionsDecodes reads the lead's durable state
// as earlier versions of nurture wrote it (it travels in a continue-as-new
// input, so a worker of today reads the state an old worker wrote). Each
// file in testdata/state is the JSON of a State with every field set, made
// by the code of the commit it is named after. Every field an earlier
// version wrote must still be a field today (decoding refuses unknown
// ones) and keep its value.
//
// When State or a type in it changes, add the state as the code writes it
// after the change:
//
//	RECORD_STATE=$(git rev-parse --short HEAD) go test ./workflows -run TestRecordState
//
// The files of 2ed7e60, 998692f and 90a738f were made the same way, from
// worktrees of those commits.
func TestStateWrittenByEarlierVersionsDecodes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "state", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 4, "the states of earlier versions")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			var st workflows.State
			require.NoError(t, dec.Decode(&st), "a field an earlier version wrote is no longer read")
			// What every version wrote, read back.
			require.Equal(t, "x", st.Lead.Email)
			require.Equal(t, "x", st.JourneyID)
			require.Equal(t, 1, st.JourneyVersion)
			require.Equal(t, "x", st.Step)
			require.EqualValues(t, "x", st.Lifecycle)
			require.Equal(t, 1, st.EmailsSent)
			require.NotEmpty(t, st.History)
			require.NotEmpty(t, st.Occurrences)
			// And written again as today's code writes it, it still reads.
			again, err := json.Marshal(st)
			require.NoError(t, err)
			var back workflows.State
			require.NoError(t, json.Unmarshal(again, &back))
			require.Equal(t, st, back)
		})
	}
}

// TestRecordState writes testdata/state/$RECORD_STATE.json: a State with
// every field set, as this code marshals it. It writes nothing unless
// RECORD_STATE names the file.
func TestRecordState(t *testing.T) {
	name := os.Getenv("RECORD_STATE")
	if name == "" {
		t.Skip("a recorder, not a check: RECORD_STATE=NAME writes testdata/state/NAME.json")
	}
	var st workflows.State
	fill(reflect.ValueOf(&st).Elem(), 0)
	data, err := json.MarshalIndent(st, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("testdata", "state", name+".json"), append(data, '\n'), 0o644))
}

// fill sets every exported field: strings to "x", numbers to 1 (1.5),
// booleans to true, one element in each slice and map.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	}
}
