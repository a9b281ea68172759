// Command dev runs the whole of nurture on one machine and shows it at work:
// an embedded Temporal server on a SQLite file, the worker, the webhook
// receiver with the console, and an SMTP sink that keeps every message; then
// sample leads go through the shipped journey, a journey day a second.
//
//	go run ./dev          # the sample leads, a summary, and where to look
//	go run ./dev -h       # its flags
//
// It is the only program that links the Temporal server (through package
// devstack), which is why it is not a command of the operator CLI: the
// worker, the receiver and the starter stay lean, and the image that ships
// them does not carry it (TestBinariesDoNotLinkTheTemporalServer).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nurture-dev/nurture/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if hint := store.Hint(err); hint != "" {
			fmt.Fprintln(os.Stderr, "dev:", hint)
		} else {
			fmt.Fprintln(os.Stderr, "dev:", err)
		}
		os.Exit(1)
	}
}
