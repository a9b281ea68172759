package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

// TestHeldSendsWaitForResumeAndTheWindow: a paused journey's send is held;
// after the pause, a late attempt (a retry, or one that waited in the send
// queue) that comes while the journey's send window is shut waits for it;
// a first attempt on time (the workflow chose its moment) and a time-scaled journey (demo, QA) are not held by the window.
func TestHeldSendsWaitForResumeAndTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Pool(t)
	j, src, err := journeys.LoadShipped("recycle-nurture.yaml") // weekdays 09:00-17:00
	require.NoError(t, err)
	_, err = store.PublishJourney(ctx, db, j, src)
	require.NoError(t, err)
	a := &Activities{DB: db}
	req := SendRequest{Lead: lead.Profile{Email: "ada@analytical.test", TimeZone: "Europe/Berlin"}, Journey: JourneyRef{ID: j.ID, Version: 1}}
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tuesday := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // 11:00 in Berlin

	_, err = store.PauseJourney(ctx, db, j.ID, "new prices next week")
	require.NoError(t, err)
	err = a.held(ctx, req, false, tuesday)
	require.ErrorContains(t, err, "journey recycle-nurture is paused (since ")
	require.ErrorContains(t, err, "new prices next week); the send waits for starter resume")
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, ErrTypeHeld, app.Type())
	require.False(t, app.NonRetryable(), "Temporal tries it again until the journey is resumed")

	_, err = store.ResumeJourney(ctx, db, j.ID)
	require.NoError(t, err)
	require.NoError(t, a.held(ctx, req, false, saturday), "a first attempt goes when the workflow says")
	require.NoError(t, a.held(ctx, req, true, tuesday), "a retry inside the window goes")
	err = a.held(ctx, req, true, saturday)
	require.ErrorContains(t, err, "the send window of journey recycle-nurture is shut; the send waits until 2026-11-30T09:00:00+01:00")
	req.TimeScale = 86400
	require.NoError(t, a.held(ctx, req, true, saturday), "a time-scaled journey's window is the workflow's to keep")
}
