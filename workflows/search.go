package workflows

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The search attributes each lead's workflow keeps up to date, so leads can
// be found in Temporal's UI and CLI:
//
//	temporal workflow list --query 'NurtureStage = "evaluation" AND NurtureScore >= 50'
//
// NurtureScore holds the score in tens (see Tens): 50 is a score from 50 to
// 59. An exact score would change Temporal's visibility store with nearly
// every engagement event; in tens, about one event in several does.
const (
	SearchJourney   = "NurtureJourney"
	SearchVersion   = "NurtureVersion"
	SearchStage     = "NurtureStage"
	SearchLifecycle = "NurtureLifecycle"
	SearchScore     = "NurtureScore"
)

// SearchAttributes are the search attributes a namespace needs for
// nurture's workflows, with their types: the embedded server registers
// them at start, a cluster at setup.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchJourney:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchVersion:   enumspb.INDEXED_VALUE_TYPE_INT,
		SearchStage:     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchLifecycle: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchScore:     enumspb.INDEXED_VALUE_TYPE_INT,
	}
}

// CheckSearchAttributes says which of nurture's search attributes the
// namespace lacks, with the commands that register them: a workflow that
// sets one the namespace does not know fails its workflow tasks until it
// does.
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	res, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	var missing []string
	want := SearchAttributes()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if got, ok := res.GetCustomAttributes()[name]; !ok || got != want[name] {
			kind := strings.TrimPrefix(want[name].String(), "INDEXED_VALUE_TYPE_")
			missing = append(missing, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type %s", namespace, name, strings.ToUpper(kind[:1])+strings.ToLower(kind[1:])))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("namespace %s lacks nurture's search attributes; register them:\n  %s", namespace, strings.Join(missing, "\n  "))
	}
	return nil
}

// MetricEventsProcessed counts, through the worker's metrics handler, the
// events journeys scored, by type; Prometheus shows it as
// nurture_events_processed_total (a gauge that only rises: the SDK counts
// through OpenTelemetry up-down counters).
const MetricEventsProcessed = "nurture_events_processed_total"

// versionSearchAttributes guards the upserts of the search attributes: a
// journey started before them replays without; its next run has them.
const versionSearchAttributes = "search-attributes"

// searchValues are what the search attributes say of the lead.
type searchValues struct {
	journey   string
	version   int
	stage     string
	lifecycle Lifecycle
	score     int
}

// publish keeps the lead's search attributes and its one-line summary up to
// date with its state; it upserts only what changed.
func (r *run) publish() error {
	// A journey started before them replays without (the SDK answers a
	// version asked again from what it recorded, adding nothing).
	if !r.has(versionSearchAttributes) {
		return nil
	}
	// The summary is no history event: it follows every change.
	r.summarize()
	score := r.st.Score.Total()
	if r.has(versionScoreInTens) {
		score = Tens(score)
	}
	now := searchValues{journey: r.st.JourneyID, version: r.st.JourneyVersion, stage: r.st.BuyingStage, lifecycle: r.st.Lifecycle, score: score}
	if now == r.searched {
		return nil
	}
	var updates []temporal.SearchAttributeUpdate
	if now.journey != r.searched.journey {
		updates = append(updates, temporal.NewSearchAttributeKeyKeyword(SearchJourney).ValueSet(now.journey))
	}
	if now.version != r.searched.version {
		updates = append(updates, temporal.NewSearchAttributeKeyInt64(SearchVersion).ValueSet(int64(now.version)))
	}
	if now.stage != r.searched.stage {
		updates = append(updates, temporal.NewSearchAttributeKeyKeyword(SearchStage).ValueSet(now.stage))
	}
	if now.lifecycle != r.searched.lifecycle {
		updates = append(updates, temporal.NewSearchAttributeKeyKeyword(SearchLifecycle).ValueSet(string(now.lifecycle)))
	}
	if now.score != r.searched.score {
		updates = append(updates, temporal.NewSearchAttributeKeyInt64(SearchScore).ValueSet(int64(now.score)))
	}
	if err := workflow.UpsertTypedSearchAttributes(r.ctx, updates...); err != nil {
		return fmt.Errorf("update search attributes: %w", err)
	}
	r.searched = now
	return nil
}

// publishLater publishes the lead's state whenever it changed and the
// workflow is about to wait for something outside its task (a timer, an
// activity, a message) rather than for a progress write: so a task that
// moves the lead through several steps upserts the search attributes once,
// not once per step. (Each upsert is a history event and a write of
// Temporal's visibility store.)
func (r *run) publishLater() {
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return r.unpublished && r.writing == 0 }); err != nil {
				return
			}
			if err := r.flushPublish(); err != nil {
				r.log.Error("search attributes not updated", "error", err)
			}
		}
	})
}

// flushPublish publishes what progress left unpublished; the run calls it
// before it ends, since the workflow's last task has no wait after it.
func (r *run) flushPublish() error {
	if !r.unpublished {
		return nil
	}
	r.unpublished = false
	return r.publish()
}

// summarize sets the one-line summary Temporal's UI shows, with the exact
// score.
func (r *run) summarize() {
	workflow.SetCurrentDetails(r.ctx, fmt.Sprintf("%s v%d, stage %s, %s, score %d",
		r.st.JourneyID, r.st.JourneyVersion, r.st.BuyingStage, r.st.Lifecycle, r.st.Score.Total()))
}

// versionScoreInTens guards NurtureScore in tens. Before it, every change
// of the score upserted the attribute: an event in the lead's history and
// a write of Temporal's visibility store for every engagement event, a
// quarter of the CPU the engagement cost (see the README's Performance).
const versionScoreInTens = "score-in-tens"

// Tens is a score rounded down to a multiple of ten, as NurtureScore holds
// it: 57 is 50, -3 is -10.
func Tens(score int) int {
	if score < 0 {
		return -((-score + 9) / 10 * 10)
	}
	return score / 10 * 10
}
