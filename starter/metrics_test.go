package main

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/metrics"
	"github.com/nurture-dev/nurture/smtpsink"
)

// TestWorkerMetricsCountWhatHappened: a real worker's metrics count the
// email the SMTP server got and the event the journey scored, beside the
// Temporal SDK's own.
func TestWorkerMetricsCountWhatHappened(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := metrics.New()
	require.NoError(t, err)
	s := startSystem(t, "", 1, func(s *system) { s.metrics = m })
	p, err := s.enroll(ctx, lead.Profile{Email: "counted@acme.test", FirstName: "Counted"})
	require.NoError(t, err)
	_, err = s.sink.Wait(ctx, func(msgs []smtpsink.Message) bool { return len(msgs) == 1 })
	require.NoError(t, err)
	s.event(t, p, "c1", lead.EmailClick)

	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, err := io.ReadAll(rec.Body)
		require.NoError(t, err)
		return string(body)
	}
	// The click ends the wait for engagement, so a second email follows:
	// the count matches what the SMTP server got.
	eventually(t, "the emails and the event counted", func() bool {
		body := scrape()
		sent := regexp.MustCompile(`(?m)^nurture_emails_total\{status="sent"\} (\d+)$`).FindStringSubmatch(body)
		return sent != nil && sent[1] == strconv.Itoa(len(s.sink.To("counted@acme.test"))) && len(s.sink.To("counted@acme.test")) == 2 &&
			regexp.MustCompile(`(?m)^nurture_events_processed_total\{.*type="email_click".*\} 1$`).MatchString(body)
	})
	require.Regexp(t, `(?m)^temporal_workflow_task_execution_latency`, scrape(), "the SDK's metrics")
}
