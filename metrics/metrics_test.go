package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/metrics"
)

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return rec.Code, string(body)
}

func TestMetricsAreServedInPrometheusFormat(t *testing.T) {
	t.Parallel()
	m, err := metrics.New()
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	counts := map[string]int{"nurturing": 7, "mql": 2}
	require.NoError(t, m.Register(metrics.Leads(func(context.Context) (map[string]int, error) { return counts, nil }, log)))
	m.Email("sent")
	m.Email("sent")
	m.Email("ambiguous")
	m.EventReceived("email_click")
	m.Handoff()
	m.Verdict("accepted")
	m.Observe("POST /v1/events", 202, 30*time.Millisecond)
	// What a workflow counts through the SDK's handler.
	m.TemporalHandler(log).WithTags(map[string]string{"type": "demo_request"}).Counter("nurture_events_processed_total").Inc(3)

	ready := errors.New("the worker is not polling")
	mux := m.Mux(func(context.Context) error { return ready })
	code, body := scrape(t, mux, "/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`nurture_emails_total{status="sent"} 2`,
		`nurture_emails_total{status="ambiguous"} 1`,
		`nurture_events_received_total{type="email_click"} 1`,
		`nurture_events_processed_total{type="demo_request"} 3`,
		`nurture_handoffs_total 1`,
		`nurture_verdicts_total{verdict="accepted"} 1`,
		`nurture_leads{lifecycle="nurturing"} 7`,
		`nurture_leads{lifecycle="mql"} 2`,
		`nurture_http_request_duration_seconds_count{code="202",endpoint="POST /v1/events"} 1`,
		`go_goroutines`,
	} {
		require.Contains(t, body, want)
	}
	code, _ = scrape(t, mux, "/healthz")
	require.Equal(t, http.StatusOK, code)
	code, body = scrape(t, mux, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "not ready: the worker is not polling")
	ready = nil
	code, _ = scrape(t, mux, "/readyz")
	require.Equal(t, http.StatusOK, code)

	// A failed read of the leads leaves the gauge out, not at zero.
	counts = nil
	failing, err := metrics.New()
	require.NoError(t, err)
	require.NoError(t, failing.Register(metrics.Leads(func(context.Context) (map[string]int, error) { return nil, errors.New("database away") }, log)))
	_, body = scrape(t, failing.Mux(func(context.Context) error { return nil }), "/metrics")
	require.NotContains(t, body, "nurture_leads{")
}

func TestNilMetricsCountNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.Email("sent")
	m.EventReceived("x")
	m.Handoff()
	m.Verdict("accepted")
	m.Observe("GET /healthz", 200, time.Millisecond)
	require.Nil(t, m.TemporalHandler(slog.New(slog.DiscardHandler)))
	require.NoError(t, m.Register(metrics.Leads(nil, nil)))
}
