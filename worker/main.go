// Command worker runs nurture's Temporal worker: the LeadJourney workflow and
// its activities, against the Temporal server at TEMPORAL_ADDRESS, the
// PostgreSQL at DATABASE_URL and the SMTP server at SMTP_HOST. It applies
// database migrations on start. Run as many as the load needs; they share
// the task queue.
//
// It does not link the Temporal server: the embedded one is the starter's
// demo, never production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if hint := store.Hint(err); hint != "" {
			fmt.Fprintln(os.Stderr, "worker:", hint)
		} else {
			fmt.Fprintln(os.Stderr, "worker:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv config.Getenv, stderr io.Writer) error {
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

	c, err := cfg.DialTemporal(ctx, log)
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
	w := journeyworker.New(c, cfg.TaskQueue, journeyworker.Activities(&cfg, pool, mail, signer, log), worker.Options{WorkerStopTimeout: 30 * time.Second})

	log.Info("worker started", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace, "task_queue", cfg.TaskQueue)
	interrupt := make(chan any)
	go func() { <-ctx.Done(); close(interrupt) }()
	if err := w.Run(interrupt); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	log.Info("worker stopped")
	return nil
}
