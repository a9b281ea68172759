// Package workercmd is the worker program: nurture's Temporal worker runs
// the LeadJourney workflow and its activities, against the Temporal server
// at TEMPORAL_ADDRESS, the PostgreSQL at DATABASE_URL and the SMTP server at
// SMTP_HOST. It applies database migrations on start. Run as many as the
// load needs; they share the task queue.
//
// The worker command (./worker) runs it, and so does the starter binary
// when it is called "worker" (the image's one binary; see cmd starter). It
// does not link the Temporal server: the embedded one is the demo's (go
// run ./dev), never production; dev/lean_test.go checks it.
package workercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/metrics"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Main runs the program with the process's arguments, environment and
// signals, and returns its exit code: 0, or 1 after saying what failed
// (-h is 0).
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return config.ExitCode("worker", Run(ctx, args, os.Getenv, os.Stderr), os.Stderr)
}

func Run(ctx context.Context, args []string, getenv config.Getenv, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: worker [flags]\n\nRuns the nurture Temporal worker. Every flag defaults to the environment variable named after it.")
		fs.PrintDefaults()
	}
	var cfg config.Config
	cfg.Register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Check(getenv); err != nil {
		return err
	}
	log := cfg.Logger(stderr)

	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	mail, err := email.New(cfg.SMTP)
	if err != nil {
		return err
	}
	defer mail.Close()

	m, err := metrics.New()
	if err != nil {
		return err
	}
	if err := m.Register(metrics.Leads(func(ctx context.Context) (map[string]int, error) { return store.CountByLifecycle(ctx, pool) }, log)); err != nil {
		return err
	}
	cfg.TemporalMetrics = m.TemporalHandler(log)
	if cfg.PayloadKeys == "" {
		log.Warn("PAYLOAD_KEYS is not set: lead data goes to Temporal's histories in plain text")
	}
	c, err := cfg.DialTemporal(ctx, log, pool)
	if err != nil {
		return err
	}
	defer c.Close()

	signer, err := cfg.Signer()
	if err != nil {
		return err
	}
	// Journeys set search attributes; without them in the namespace each
	// journey's workflow tasks would fail until they are registered.
	if err := workflows.CheckSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		return err
	}
	// On SIGTERM, running activities get this long to finish, so a deploy
	// does not cut a send in half.
	acts := journeyworker.Activities(&cfg, pool, mail, signer, log)
	acts.Metrics = m
	fatal := make(chan error, 1)
	// Process-wide in the SDK: set before the workers are made.
	worker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
	w := journeyworker.New(c, cfg.TaskQueue, acts, worker.Options{WorkerStopTimeout: 30 * time.Second,
		OnFatalError: func(err error) { fatal <- err }}, journeyworker.SendRates(&cfg))

	var started atomic.Bool
	if cfg.MetricsListenAddr != "" {
		ready := func(ctx context.Context) error {
			if !started.Load() {
				return errors.New("the worker is not polling")
			}
			return pool.Ping(ctx)
		}
		ln, err := net.Listen("tcp", cfg.MetricsListenAddr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		srv := &http.Server{Handler: m.Mux(ready), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("serving metrics and health", "addr", ln.Addr().String())
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	started.Store(true)
	log.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace, "task_queue", cfg.TaskQueue,
		"send_queue", workflows.SendTaskQueue(cfg.TaskQueue), "send_rate", cfg.SendRate, "send_rate_per_worker", cfg.SendRatePerWorker,
		"send_rate_per_domain", cfg.SendRatePerDomain)
	var stopped error
	select {
	case <-ctx.Done():
	case err := <-fatal:
		stopped = fmt.Errorf("worker: %w", err)
	}
	started.Store(false)
	w.Stop()
	log.Info("worker stopped")
	return stopped
}
