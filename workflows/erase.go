package workflows

import (
	"context"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// DeleteLeadRuns deletes every run of a lead's journey workflow that
// Temporal keeps — the running one (the server terminates it first) and
// the closed ones within the namespace's retention, each run continued as
// new included — with its history, and says how many it asked to delete.
// The server deletes asynchronously: a run may show for a moment after.
func DeleteLeadRuns(ctx context.Context, c client.Client, namespace, leadID string) (int, error) {
	wid := WorkflowID(leadID)
	runs := map[string]bool{}
	// The current run, which visibility may not list yet.
	d, err := c.DescribeWorkflowExecution(ctx, wid, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return 0, fmt.Errorf("find the journey of lead %s: %w", leadID, err)
	default:
		runs[d.GetWorkflowExecutionInfo().GetExecution().GetRunId()] = true
	}
	var token []byte
	for {
		page, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: fmt.Sprintf("WorkflowId = '%s'", wid), NextPageToken: token})
		if err != nil {
			return 0, fmt.Errorf("list the runs of lead %s: %w", leadID, err)
		}
		for _, e := range page.GetExecutions() {
			runs[e.GetExecution().GetRunId()] = true
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	n := 0
	for run := range runs {
		_, err := c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wid, RunId: run}})
		if errors.As(err, &notFound) {
			continue // gone meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("delete run %s of lead %s: %w", run, leadID, err)
		}
		n++
	}
	return n, nil
}
