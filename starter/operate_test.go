package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// TestPauseHoldsSendsUntilResume: while its journey is paused, a new lead's
// first email does not go out (its send waits, retried by Temporal); an
// event that comes meanwhile is kept; on resume the email goes and the
// event is scored.
func TestPauseHoldsSendsUntilResume(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)

	out, err := starter("pause", "b2b-nurture", "-reason", "fixing a typo in the benchmark email")
	require.NoError(t, err, out)
	require.Contains(t, out, "paused journey b2b-nurture")
	out, err = starter("pause", "b2b-nurture")
	require.NoError(t, err, out)
	require.Contains(t, out, "was paused already")
	_, err = starter("pause", "no-such-journey")
	require.ErrorContains(t, err, `journey "no-such-journey" is not published`)

	out, err = starter("journeys")
	require.NoError(t, err, out)
	require.Contains(t, out, "journey b2b-nurture is PAUSED since")

	p, err := s.enroll(ctx, lead.Profile{Email: "ada@analytical.test", FirstName: "Ada"})
	require.NoError(t, err)
	// The send is held: its activity has failed at least once, saying why.
	eventually(t, "the send held by the pause", func() bool {
		d, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(p.ID), "")
		if err != nil {
			return false
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetAttempt() >= 2 && strings.Contains(a.GetLastFailure().GetMessage(), "journey b2b-nurture is paused") {
				return true
			}
		}
		return false
	})
	s.event(t, p, "while-paused", lead.WhitepaperDownload)
	// A second lead, held too, is removed: the journey takes the removal,
	// and carries it out when its held send is done.
	held, err := s.enroll(ctx, lead.Profile{Email: "grace@cobol.test", FirstName: "Grace"})
	require.NoError(t, err)
	eventually(t, "grace's send held", func() bool {
		d, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(held.ID), "")
		return err == nil && len(d.GetPendingActivities()) == 1 && d.GetPendingActivities()[0].GetAttempt() >= 2
	})
	_, err = starter("remove", "grace@cobol.test", "-reason", "asked to stop", "-wait", "2s")
	require.ErrorIs(t, err, workflows.ErrRemovalWaiting)
	require.Empty(t, s.sink.Messages(), "nothing went out while paused")
	n, err := store.CountSends(ctx, s.db, p.ID)
	require.NoError(t, err)
	require.Zero(t, n, "not even claimed")

	out, err = starter("resume", "b2b-nurture")
	require.NoError(t, err, out)
	require.Contains(t, out, "resumed journey b2b-nurture")
	_, err = s.sink.Wait(ctx, func([]smtpsink.Message) bool { return len(s.sink.To("ada@analytical.test")) == 1 })
	require.NoError(t, err, "the held send goes out on resume")
	eventually(t, "grace removed once her held send went", func() bool {
		st, err := workflows.QueryLead(ctx, s.client, held.ID)
		return err == nil && st.ExitReason == workflows.ExitRemoved
	})
	eventually(t, "the event kept during the pause is scored", func() bool {
		st, err := workflows.QueryLead(ctx, s.client, p.ID)
		return err == nil && st.EventsSeen == 1
	})
	_, err = starter("resume", "b2b-nurture")
	require.EqualError(t, err, `journey "b2b-nurture" is not paused`)
}
