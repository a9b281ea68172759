package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store/storetest"
)

// TestSendsOverTheDomainLimitWaitForTheirSlot: past the limit, a send to the
// same domain is held (retryable, not a failure) until the window its slot
// is in, and goes when retried then; other domains are not held; no limit
// holds nothing.
func TestSendsOverTheDomainLimitWaitForTheirSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := &Activities{DB: storetest.Pool(t), DomainLimit: DomainLimit{Sends: 2, Per: time.Minute}}
	now := time.Date(2026, 11, 23, 9, 0, 15, 0, time.UTC)
	send := func(key, addr string) SendRequest {
		return SendRequest{Key: key, Lead: lead.Profile{Email: addr}}
	}
	require.NoError(t, a.slot(ctx, send("1", "a@Gmail.test"), now))
	require.NoError(t, a.slot(ctx, send("2", "b@gmail.test"), now))
	err := a.slot(ctx, send("3", "c@GMAIL.TEST"), now)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, ErrTypeHeld, app.Type())
	require.False(t, app.NonRetryable())
	require.Equal(t, temporal.ApplicationErrorCategoryBenign, app.Category(), "not logged nor counted as a failure by the SDK")
	require.Equal(t, 45*time.Second, app.NextRetryDelay(), "retried at 09:01, when its slot's window opens")
	require.ErrorContains(t, err, "2 emails to gmail.test a 1m0s have gone or are booked; the send waits for its slot at 2026-11-23T09:01:00Z")
	require.NoError(t, a.slot(ctx, send("3", "c@gmail.test"), now.Add(45*time.Second)), "its retry goes")
	require.NoError(t, a.slot(ctx, send("4", "d@acme.test"), now), "another domain")

	a.DomainLimit = DomainLimit{}
	require.NoError(t, a.slot(ctx, send("5", "e@gmail.test"), now), "no limit")
}

func TestRecipientDomain(t *testing.T) {
	t.Parallel()
	require.Equal(t, "gmail.com", RecipientDomain("Ada.Lovelace@GMail.com"))
	require.Equal(t, "b.test", RecipientDomain(`"a@b"@b.test`))
}
