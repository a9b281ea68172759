// Package pace admits bulk work (an import of thousands of leads) no faster
// than Temporal's workers and the send rate take it. Every journey shares
// its task queues: enrolling faster than they drain builds a backlog that
// the journeys already running wait behind. With a send limit it is the
// send queue that grows, and a running journey's email waits behind every
// first email of the import (a minute and a half for 1,000 leads at 10
// emails a second; see the README's Performance). A Gate asks the server
// how long the oldest task on each watched queue has waited, and holds new
// work while that is longer than the limit. Temporal reports the age with a
// lag, so the backlog overshoots the limit (to about a minute, measured);
// it stays bounded however long the list. starter's
// TestImportWaitsForTheWorkers tests a Gate against a real server.
package pace

import (
	"context"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/workflows"
)

// Journeys is a gate on the journeys of a task queue: its workflow tasks,
// and the emails waiting on its send queue (where SEND_RATE holds them).
func Journeys(c client.Client, namespace, taskQueue string, maxAge time.Duration) *Gate {
	return &Gate{Client: c, Namespace: namespace, Queues: []Queue{
		{Name: taskQueue, MaxAge: maxAge},
		{Name: workflows.SendTaskQueue(taskQueue), Activities: true, MaxAge: maxAge},
	}}
}

// Queue is a task queue the gate watches, with the kind of tasks on it.
type Queue struct {
	Name string
	// Activities watches activity tasks; otherwise workflow tasks.
	Activities bool
	// MaxAge is how old its oldest waiting task may be before new work
	// waits.
	MaxAge time.Duration
}

// Gate holds work while a watched queue's backlog is too old.
type Gate struct {
	Client    client.Client
	Namespace string
	Queues    []Queue
	// Every is how often the server is asked; 500 ms when zero.
	Every time.Duration

	mu      sync.Mutex
	checked time.Time
	open    bool
	why     string
	waited  time.Duration
}

// Wait returns once every watched queue's backlog is young enough (at
// once when it is), or when ctx ends.
func (g *Gate) Wait(ctx context.Context) error {
	began := time.Time{}
	for {
		open, err := g.check(ctx)
		if err != nil {
			return err
		}
		if open {
			if !began.IsZero() {
				g.mu.Lock()
				g.waited += time.Since(began)
				g.mu.Unlock()
			}
			return nil
		}
		if began.IsZero() {
			began = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(g.every()):
		}
	}
}

// Waited is how long work was held in all, summed over callers.
func (g *Gate) Waited() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waited
}

// Why says what held work last, "" when nothing did.
func (g *Gate) Why() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.why
}

func (g *Gate) every() time.Duration {
	if g.Every > 0 {
		return g.Every
	}
	return 500 * time.Millisecond
}

// check asks the server at most once per interval; callers in between
// share the answer.
func (g *Gate) check(ctx context.Context) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.checked.IsZero() && time.Since(g.checked) < g.every() {
		return g.open, nil
	}
	open, why := true, ""
	for _, q := range g.Queues {
		b, err := Measure(ctx, g.Client, g.Namespace, q)
		age := b.Age
		if err != nil {
			return false, err
		}
		if age > q.MaxAge {
			open = false
			why = fmt.Sprintf("the oldest %s task on %s has waited %s (more than %s)", q.kind(), q.Name, age.Round(100*time.Millisecond), q.MaxAge)
			break
		}
	}
	g.checked, g.open = time.Now(), open
	if !open {
		g.why = why
	}
	return open, nil
}

func (q Queue) kind() string {
	if q.Activities {
		return "activity"
	}
	return "workflow"
}

// Backlog is what waits on a task queue: how many tasks (approximately)
// and how long the oldest has waited.
type Backlog struct {
	Tasks int64
	Age   time.Duration
}

// Measure asks the server for a queue's backlog.
func Measure(ctx context.Context, c client.Client, namespace string, q Queue) (Backlog, error) {
	kind := enumspb.TASK_QUEUE_TYPE_WORKFLOW
	if q.Activities {
		kind = enumspb.TASK_QUEUE_TYPE_ACTIVITY
	}
	res, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace: namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: q.Name, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: kind, ReportStats: true,
	})
	if err != nil {
		return Backlog{}, fmt.Errorf("ask Temporal about task queue %s: %w", q.Name, err)
	}
	st := res.GetStats()
	return Backlog{Tasks: st.GetApproximateBacklogCount(), Age: st.GetApproximateBacklogAge().AsDuration()}, nil
}
