package webhook

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequestLogsCarryNoPersonalData: at info, a request is logged by its
// route, status, size and time; the token in its path, the address in its
// body and the client's address stay out.
func TestRequestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &Server{Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})), Secrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}}
	h := s.Handler()
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/c/v1.k1.SECRET-TOKEN-PART.mac", nil),
		httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(`{"id": "e1", "type": "page_view", "email": "ada@analytical.test"}`)),
		httptest.NewRequest(http.MethodGet, "/no/such/ada@analytical.test", nil),
	} {
		req.RemoteAddr = "203.0.113.9:5555"
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	out := logs.String()
	require.Contains(t, out, "route=\"GET /c/{token}\" status=404")
	require.Contains(t, out, "route=\"POST /v1/events\" status=401")
	require.Contains(t, out, "route=\"(no route)\" status=404")
	for _, secret := range []string{"SECRET-TOKEN-PART", "ada@", "analytical", "203.0.113.9"} {
		require.NotContains(t, out, secret)
	}
}
