package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/tcpproxy"
	"github.com/nurture-dev/nurture/internal/testcert"
	"github.com/nurture-dev/nurture/workflows"
)

// TestCommandsReachTemporalOverTLS: the embedded server behind a TLS front
// (as Temporal Cloud or a TLS-secured cluster is reached); the CLI connects
// with Temporal's TEMPORAL_TLS_ settings and gets the journey's answer, and
// without the CA it refuses the server's certificate.
func TestCommandsReachTemporalOverTLS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := startSystemForCLI(t, ctx)
	cert := testcert.Write(t, t.TempDir(), "temporal.test")
	front, err := tcpproxy.StartTLS(s.temporal.Address, cert.ServerConfig(t))
	require.NoError(t, err)
	t.Cleanup(front.Cut)

	starter := cli(ctx, s.cliEnv, "TEMPORAL_ADDRESS", front.Addr,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH", cert.Cert, "TEMPORAL_TLS_SERVER_NAME", "temporal.test")
	_, err = starter("remove", "nobody@acme.test", "-reason", "a test")
	require.ErrorIs(t, err, workflows.ErrNoJourney, "the server answered over TLS")

	plain := cli(ctx, s.cliEnv, "TEMPORAL_ADDRESS", front.Addr, "TEMPORAL_TLS", "true")
	_, err = plain("remove", "nobody@acme.test", "-reason", "a test")
	require.ErrorContains(t, err, "certificate", "a server the CA does not vouch for is refused")
}
