package journeys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// ContentOnlyChange reports whether b differs from a only in its content
// (subjects, texts, variants), name and description: the same steps, in
// the same stages, with the same rules. Running leads can then move from a
// to b where they stand. When they differ in more, the error names the
// first field or step that differs.
func ContentOnlyChange(a, b *Journey) error {
	if a.ID != b.ID {
		return fmt.Errorf("journey %q is not journey %q", b.ID, a.ID)
	}
	if len(a.Stages) != len(b.Stages) {
		return fmt.Errorf("the stages differ: %d against %d", len(a.Stages), len(b.Stages))
	}
	for i, sa := range a.Stages {
		sb := b.Stages[i]
		if sa.ID != sb.ID {
			return fmt.Errorf("stage %d is %q, not %q", i+1, sb.ID, sa.ID)
		}
		if len(sa.Steps) != len(sb.Steps) {
			return fmt.Errorf("stage %q has %d steps, not %d", sa.ID, len(sb.Steps), len(sa.Steps))
		}
		for k, step := range sa.Steps {
			if !sameJSON(step, sb.Steps[k]) {
				return fmt.Errorf("step %q of stage %q differs", step.ID, sa.ID)
			}
		}
	}
	rules := func(j *Journey) map[string]json.RawMessage {
		c := *j
		c.Name, c.Description, c.Content, c.Stages = "", "", nil, nil
		var m map[string]json.RawMessage
		raw, _ := json.Marshal(c)
		_ = json.Unmarshal(raw, &m)
		return m
	}
	ra, rb := rules(a), rules(b)
	keys := maps.Clone(ra)
	maps.Copy(keys, rb)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !bytes.Equal(ra[k], rb[k]) {
			return fmt.Errorf("%s differs", k)
		}
	}
	return nil
}

func sameJSON(a, b any) bool {
	ra, errA := json.Marshal(a)
	rb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ra, rb)
}
