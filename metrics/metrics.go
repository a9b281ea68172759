// Package metrics is what nurture tells Prometheus: the Temporal SDK's own
// metrics (through its OpenTelemetry contrib package and OpenTelemetry's
// Prometheus exporter) and nurture's: emails by outcome, events received
// and processed, hand-offs, verdicts, leads by lifecycle, and the
// receiver's request latency by endpoint and status. Each process makes
// one Metrics and serves its registry; a nil *Metrics counts nothing, so
// tests and tools need none.
package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// Metrics holds a process's metrics and the registry that serves them.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider

	emails         *prometheus.CounterVec
	eventsReceived *prometheus.CounterVec
	handoffs       prometheus.Counter
	verdicts       *prometheus.CounterVec
	requests       *prometheus.HistogramVec
}

// New makes the metrics of one process, with the Go runtime's and the
// process's own.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		emails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nurture_emails_total",
			Help: "Journey emails by what became of them: sent, failed (the send failed and Temporal retries it), ambiguous, duplicate, suppressed, rejected, content_error."}, []string{"status"}),
		eventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nurture_events_received_total",
			Help: "Engagement events stored by the receiver or the CLI, by type (repeats of one event counted once)."}, []string{"type"}),
		handoffs: prometheus.NewCounter(prometheus.CounterOpts{Name: "nurture_handoffs_total", Help: "Leads handed to sales."}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nurture_verdicts_total",
			Help: "Sales' verdicts recorded, by verdict."}, []string{"verdict"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nurture_http_request_duration_seconds",
			Help: "Time the receiver took to answer, by endpoint (its route) and status code.", Buckets: prometheus.DefBuckets}, []string{"endpoint", "code"}),
	}
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.emails, m.eventsReceived, m.handoffs, m.verdicts, m.requests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	m.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	return m, nil
}

// TemporalHandler is the metrics handler for a Temporal client: the SDK's
// metrics, and what workflows count through workflow.GetMetricsHandler
// (nurture_events_processed_total, by event type: counted so, a replayed
// workflow task does not count again), land in this registry. Nil metrics give nil (the SDK counts nothing).
func (m *Metrics) TemporalHandler(log *slog.Logger) client.MetricsHandler {
	if m == nil {
		return nil
	}
	return opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: m.provider.Meter("temporal-sdk-go"),
		// A metric that cannot be recorded is logged, never a panic in a
		// workflow task.
		OnError: func(err error) { log.Warn("a Temporal metric could not be recorded", "error", err) },
	})
}

// Register adds a collector of the process's own (a gauge read on each
// scrape).
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.registry.Register(c)
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Email counts an email by what became of it.
func (m *Metrics) Email(status string) {
	if m != nil {
		m.emails.WithLabelValues(status).Inc()
	}
}

// EventReceived counts an event stored for the first time.
func (m *Metrics) EventReceived(eventType string) {
	if m != nil {
		m.eventsReceived.WithLabelValues(eventType).Inc()
	}
}

// Handoff counts a lead handed to sales.
func (m *Metrics) Handoff() {
	if m != nil {
		m.handoffs.Inc()
	}
}

// Verdict counts a sales verdict recorded.
func (m *Metrics) Verdict(verdict string) {
	if m != nil {
		m.verdicts.WithLabelValues(verdict).Inc()
	}
}

// Observe times a request to the receiver: endpoint is its route pattern,
// never its path, so the labels stay few.
func (m *Metrics) Observe(endpoint string, code int, took time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Observe(took.Seconds())
	}
}

// Shutdown flushes the OpenTelemetry side.
func (m *Metrics) Shutdown(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}

// leadsCollector reads the leads by lifecycle on each scrape.
type leadsCollector struct {
	desc  *prometheus.Desc
	count func(context.Context) (map[string]int, error)
	log   *slog.Logger
}

// Leads is a gauge of the leads by lifecycle, read with count on each
// scrape (bounded to 5 s); a failed read is logged and leaves the gauge
// out of that scrape rather than reporting zeros.
func Leads(count func(context.Context) (map[string]int, error), log *slog.Logger) prometheus.Collector {
	return &leadsCollector{desc: prometheus.NewDesc("nurture_leads", "Leads by lifecycle, as PostgreSQL has them.", []string{"lifecycle"}, nil), count: count, log: log}
}

func (c *leadsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *leadsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		c.log.Warn("leads by lifecycle not read for metrics", "error", err)
		return
	}
	for lifecycle, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), lifecycle)
	}
}

// Mux serves /metrics, /healthz (the process is up) and /readyz (ready
// says nil: it can do its work).
func (m *Metrics) Mux(ready func(context.Context) error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}
