package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdk "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/devstack"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

// TestLeadsCanBeFoundInTemporal: each lead's workflow keeps its journey,
// version, stage, lifecycle and score as search attributes, so Temporal's
// list query finds leads by them.
func TestLeadsCanBeFoundInTemporal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1)
	require.NoError(t, workflows.CheckSearchAttributes(ctx, s.client, "default"), "the embedded server registers them")
	hot, err := s.enroll(ctx, lead.Profile{Email: "hot@acme.test", FirstName: "Hot", Title: "CTO", Company: "Acme"})
	require.NoError(t, err)
	_, err = s.enroll(ctx, lead.Profile{Email: "cold@acme.test", FirstName: "Cold"})
	require.NoError(t, err)
	s.event(t, hot, "w1", lead.WebinarSignup)
	s.event(t, hot, "p1", lead.PricingPageView)

	find := func(query string) []string {
		res, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(t, err)
		var ids []string
		for _, e := range res.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		return ids
	}
	eventually(t, "the hot lead found by stage and score", func() bool {
		ids := find(`NurtureJourney = "b2b-nurture" AND NurtureStage = "interest" AND NurtureScore > 30`)
		return len(ids) == 1 && ids[0] == workflows.WorkflowID(hot.ID)
	})
	eventually(t, "both found by lifecycle and version", func() bool {
		return len(find(`NurtureLifecycle IN ("nurturing", "mql") AND NurtureVersion = 1`)) == 2
	})
	// The one-line summary Temporal's UI shows, from the metadata query.
	v, err := s.client.QueryWorkflow(ctx, workflows.WorkflowID(hot.ID), "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var meta sdk.WorkflowMetadata
	require.NoError(t, v.Get(&meta))
	require.Regexp(t, `^b2b-nurture v1, stage interest, (nurturing|mql), score \d+$`, meta.GetCurrentDetails())

	// NurtureScore is the stored score in tens; the summary has it exact.
	// A case study (5 points) leaves a score that no multiple of ten.
	var score int
	require.NoError(t, s.db.QueryRow(ctx, `select score from leads where id = $1`, hot.ID).Scan(&score))
	require.Zero(t, score%10, "the case study below makes the score end in 5")
	s.event(t, hot, "c1", lead.CaseStudyView)
	eventually(t, "the case study scored", func() bool {
		require.NoError(t, s.db.QueryRow(ctx, `select score from leads where id = $1`, hot.ID).Scan(&score))
		return score%10 == 5
	})
	eventually(t, "the summary with the exact score", func() bool {
		v, err := s.client.QueryWorkflow(ctx, workflows.WorkflowID(hot.ID), "", "__temporal_workflow_metadata")
		require.NoError(t, err)
		require.NoError(t, v.Get(&meta))
		return meta.GetCurrentDetails() == fmt.Sprintf("b2b-nurture v1, stage interest, mql, score %d", score)
	})
	eventually(t, "the hot lead found by its score in tens", func() bool {
		ids := find(fmt.Sprintf(`NurtureScore = %d`, workflows.Tens(score)))
		return len(ids) == 1 && ids[0] == workflows.WorkflowID(hot.ID)
	})
}

// TestWorkerNamesTheMissingSearchAttributes: a namespace without them is
// refused with the commands that register them.
func TestWorkerNamesTheMissingSearchAttributes(t *testing.T) {
	t.Parallel()
	srv, err := devstack.StartTemporal(devstack.TemporalOptions{Logger: testLogger(), WithoutSearchAttributes: true})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	c, err := client.Dial(client.Options{HostPort: srv.Address})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	err = workflows.CheckSearchAttributes(context.Background(), c, "default")
	require.ErrorContains(t, err, "namespace default lacks nurture's search attributes; register them:")
	require.ErrorContains(t, err, "temporal operator search-attribute create --namespace default --name NurtureScore --type Int")
	require.ErrorContains(t, err, "--name NurtureStage --type Keyword")
}

// TestAnUpdateNoWorkerTakesSaysSo: with no worker polling, a removal is
// not accepted; the command says so within its wait instead of hanging.
func TestAnUpdateNoWorkerTakesSaysSo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1)
	p := lead.Profile{Email: "orphan@acme.test"}
	require.NoError(t, p.Normalize())
	_, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(p.ID), TaskQueue: "no-worker-polls-this"},
		workflows.LeadJourney, workflows.Input{Lead: p, JourneyID: "b2b-nurture"})
	require.NoError(t, err)
	_, err = workflows.RemoveLead(ctx, s.client, p.ID, workflows.Removal{Reason: "a test"}, time.Second)
	require.ErrorContains(t, err, "remove-lead for lead "+p.ID+": the journey did not take it within 1s (is a worker running?)")
}
