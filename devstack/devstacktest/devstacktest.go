// Package devstacktest starts the parts of package devstack that an
// integration test needs (an in-memory Temporal server, the SMTP sink, a
// worker with nurture's workflows and activities) and stops each when the
// test ends, so the test harnesses of the receiver and the console share
// one way to stand the system up.
package devstacktest

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/devstack"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeyworker"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
)

// Quiet logs errors only: what a passing test need not show.
func Quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// Temporal starts an embedded Temporal server that keeps everything in
// memory and returns a client of it.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	srv, err := devstack.StartTemporal(devstack.TemporalOptions{Logger: Quiet()})
	if err != nil {
		t.Fatalf("start the embedded Temporal server: %v", err)
	}
	t.Cleanup(srv.Stop)
	c, err := client.Dial(client.Options{HostPort: srv.Address, Logger: sdklog.NewStructuredLogger(Quiet())})
	if err != nil {
		t.Fatalf("connect to the embedded Temporal server: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Sink starts an SMTP sink and a sender that mails through it.
func Sink(t testing.TB) (*smtpsink.Sink, *email.Sender) {
	t.Helper()
	sink, err := smtpsink.Start(smtpsink.Options{})
	if err != nil {
		t.Fatalf("start the SMTP sink: %v", err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	mail, err := email.New(email.Config{Host: sink.Host(), Port: sink.Port(), TLS: "none", From: "Acme <marketing@acme.test>"})
	if err != nil {
		t.Fatalf("connect to the SMTP sink: %v", err)
	}
	t.Cleanup(mail.Close)
	return sink, mail
}

// Worker runs the workers of nurture's workflows and the activities on a
// task queue of the test's own (and its send queue, with no rate limit).
func Worker(t testing.TB, c client.Client, taskQueue string, acts *activities.Activities) {
	t.Helper()
	w := journeyworker.New(c, taskQueue, acts, worker.Options{}, journeyworker.Rates{})
	if err := w.Start(); err != nil {
		t.Fatalf("start the worker: %v", err)
	}
	t.Cleanup(w.Stop)
}

// Publish publishes the shipped journeys and the journey sources given.
func Publish(t testing.TB, ctx context.Context, db store.DB, sources ...string) {
	t.Helper()
	for _, name := range []string{"b2b-nurture.yaml", "recycle-nurture.yaml"} {
		j, src, err := journeys.LoadShipped(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PublishJourney(ctx, db, j, src); err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range sources {
		j, err := journeys.Parse("extra.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PublishJourney(ctx, db, j, []byte(src)); err != nil {
			t.Fatal(err)
		}
	}
}
