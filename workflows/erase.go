package workflows

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// DeleteLeadRuns deletes every run of a lead's journey workflow that
// Temporal keeps — the running one (the server terminates it first) and
// the closed ones within the namespace's retention, each run continued as
// new included — with its history, and says how many runs it deleted. The
// server deletes in the background, and a run that closes while it is
// being deleted can stay; so it looks again until none is left, for up to
// wait.
func DeleteLeadRuns(ctx context.Context, c client.Client, namespace, leadID string, wait time.Duration) (int, error) {
	wid := WorkflowID(leadID)
	all, err := leadRuns(ctx, c, namespace, leadID)
	if err != nil {
		return 0, err
	}
	var notFound *serviceerror.NotFound
	deadline := time.Now().Add(wait)
	for pass, runs := 0, all; len(runs) > 0; pass++ {
		if pass > 0 {
			if time.Now().After(deadline) {
				return len(all) - len(runs), fmt.Errorf("lead %s still has %d journey runs in Temporal %s after asking to delete them", leadID, len(runs), wait)
			}
			select {
			case <-ctx.Done():
				return len(all) - len(runs), ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		var left []string
		for _, run := range runs {
			// Asked again every few passes while it is there: a run that
			// closed while its deletion was asked can be left behind.
			if pass%4 == 0 {
				_, err := c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
					Namespace: namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wid, RunId: run}})
				if err != nil && !errors.As(err, &notFound) {
					return len(all) - len(runs), fmt.Errorf("delete run %s of lead %s: %w", run, leadID, err)
				}
			}
			_, err := c.DescribeWorkflowExecution(ctx, wid, run)
			switch {
			case errors.As(err, &notFound):
			case err != nil:
				return len(all) - len(runs), fmt.Errorf("is run %s of lead %s gone: %w", run, leadID, err)
			default:
				left = append(left, run)
			}
		}
		runs = left
	}
	return len(all), nil
}

// leadRuns lists the runs of a lead's journey Temporal has: the current
// one (which visibility may not list yet) and those visibility lists.
func leadRuns(ctx context.Context, c client.Client, namespace, leadID string) ([]string, error) {
	wid := WorkflowID(leadID)
	runs := map[string]bool{}
	d, err := c.DescribeWorkflowExecution(ctx, wid, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return nil, fmt.Errorf("find the journey of lead %s: %w", leadID, err)
	default:
		runs[d.GetWorkflowExecutionInfo().GetExecution().GetRunId()] = true
	}
	var token []byte
	for {
		page, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: fmt.Sprintf("WorkflowId = '%s'", wid), NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list the runs of lead %s: %w", leadID, err)
		}
		for _, e := range page.GetExecutions() {
			runs[e.GetExecution().GetRunId()] = true
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return slices.Collect(maps.Keys(runs)), nil
}
