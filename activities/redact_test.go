package activities

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
)

func TestRedactTakesTheAddressOut(t *testing.T) {
	t.Parallel()
	smtp := fmt.Errorf("send: %w", errors.New("550 5.1.1 <ada@analytical.test>: Recipient address rejected"))
	got := redact(smtp, "ada@analytical.test")
	require.EqualError(t, got, "send: 550 5.1.1 <<the lead's address>>: Recipient address rejected")
	require.Nil(t, errors.Unwrap(got), "no cause keeps the address")
	require.Equal(t, smtp, redact(smtp, "grace@cobol.test"), "another address: unchanged")
	app := temporal.NewApplicationError("journey paused", ErrTypeHeld)
	require.Equal(t, app, redact(app, "ada@analytical.test"), "nurture's own errors keep their type")
	require.NoError(t, redact(nil, "ada@analytical.test"))
}
