package email_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/smtpsink"
)

// TestAConnectionTheServerClosedForIdlingIsReplaced: the sender keeps
// connections for reuse; a server that closed one for idling answers the
// next message with 421, and the sender sends it on a new connection, once.
func TestAConnectionTheServerClosedForIdlingIsReplaced(t *testing.T) {
	t.Parallel()
	sink, err := smtpsink.Start(smtpsink.Options{Faults: smtpsink.Faults{IdleTimeout: 200 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	s, err := email.New(email.Config{Host: sink.Host(), Port: sink.Port(), TLS: "none", From: "m@acme.test"})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ctx := context.Background()
	require.NoError(t, s.Send(ctx, email.Message{To: "ada@analytical.test", Subject: "one", Text: "t"}))
	// The pooled connection idles past the server's timeout.
	time.Sleep(time.Second)
	require.NoError(t, s.Send(ctx, email.Message{To: "ada@analytical.test", Subject: "two", Text: "t"}))
	msgs := sink.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, []string{"one", "two"}, []string{msgs[0].Subject, msgs[1].Subject})
}
