package lead_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
)

func TestLeadIDComesFromTheAddress(t *testing.T) {
	t.Parallel()
	require.Equal(t, lead.IDForEmail("ada@example.com"), lead.IDForEmail("  Ada@Example.COM "))
	require.NotEqual(t, lead.IDForEmail("ada@example.com"), lead.IDForEmail("grace@example.com"))

	p := lead.Profile{Email: " Ada@Example.com"}
	require.NoError(t, p.Normalize())
	require.Equal(t, "ada@example.com", p.Email)
	require.Equal(t, lead.IDForEmail("ada@example.com"), p.ID)
	require.Empty(t, p.TimeZone, "no zone given: the journey's time_zone applies, so none is made up")
}

func TestProfileProblems(t *testing.T) {
	t.Parallel()
	for _, p := range []lead.Profile{
		{},
		{Email: "not an address"},
		{Email: "ada@example.com", TimeZone: "Mars/Olympus"},
		{Email: "ada@example.com", ID: "someone-else"},
	} {
		require.Error(t, p.Normalize(), "%+v", p)
	}
}

func TestEventValidation(t *testing.T) {
	t.Parallel()
	err := lead.Event{Type: "pricing_pgae_view"}.Validate()
	require.ErrorContains(t, err, "event id is required")
	require.ErrorContains(t, err, `event type "pricing_pgae_view" is unknown; known types: buying_guide_download`)
	require.ErrorContains(t, err, "event time is required")
	require.True(t, lead.PricingPageView.Known())
}
