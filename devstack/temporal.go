// Package devstack runs the parts of nurture that a developer's machine lacks,
// inside the calling process: a Temporal server persisted to a SQLite file
// and an SMTP sink. It is linked only by the demo (package main in dev/) and
// by the integration tests; the worker, the receiver and the starter never
// import it, so they never carry the Temporal server.
package devstack

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nurture-dev/nurture/workflows"
	"github.com/temporalio/cli/temporalcli/devserver"
)

// TemporalOptions says where the embedded Temporal server keeps its data and
// listens.
type TemporalOptions struct {
	// DatabaseFile is the SQLite file; empty keeps everything in memory, as
	// tests want.
	DatabaseFile string
	// IP to listen on; 127.0.0.1 when empty.
	IP string
	// Port for the frontend gRPC service; a free one when zero.
	Port int
	// UIPort serves Temporal's Web UI from embedded assets; no UI when zero.
	UIPort    int
	Namespace string
	Logger    *slog.Logger
	// DynamicConfig sets the server's dynamic configuration by key, as
	// tests that need a limit lowered do.
	DynamicConfig map[string]any
	// WithoutSearchAttributes leaves nurture's search attributes out of
	// the namespace, as a cluster not set up for nurture is; for tests.
	WithoutSearchAttributes bool
}

// Temporal is a running embedded Temporal server.
type Temporal struct {
	stop    func()
	Address string
	UIURL   string
}

// StartTemporal starts the embedded server and returns once its frontend
// accepts connections.
func StartTemporal(opts TemporalOptions) (*Temporal, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Port == 0 {
		port, err := devserver.GetFreePort(opts.IP)
		if err != nil {
			return nil, fmt.Errorf("find a free port for Temporal: %w", err)
		}
		opts.Port = port
	} else if err := devserver.CheckPortFree(opts.IP, opts.Port); err != nil {
		return nil, fmt.Errorf("temporal port %d is taken (another Temporal server or demo running?): %w", opts.Port, err)
	}
	if opts.DatabaseFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o755); err != nil {
			return nil, fmt.Errorf("create directory for %s: %w", opts.DatabaseFile, err)
		}
	}
	start := devserver.StartOptions{
		FrontendIP:             opts.IP,
		FrontendPort:           opts.Port,
		Namespaces:             []string{opts.Namespace},
		ClusterID:              "nurture-dev",
		MasterClusterName:      "active",
		CurrentClusterName:     "active",
		InitialFailoverVersion: 1,
		Logger:                 opts.Logger,
		LogLevel:               slog.LevelWarn,
		DatabaseFile:           opts.DatabaseFile,
		DynamicConfigValues:    opts.DynamicConfig,
		// Each lead's workflow keeps these up to date (see package
		// workflows), so a namespace must know them.
		SearchAttributes: workflows.SearchAttributes(),
		// With SQLite's defaults a file-backed server manages about 19
		// workflow starts/s on our machines; WAL with normal sync about 146.
		SqlitePragmas: map[string]string{"journal_mode": "wal", "synchronous": "normal"},
	}
	if opts.WithoutSearchAttributes {
		start.SearchAttributes = nil
	}
	if opts.DatabaseFile == "" {
		// WAL does not apply to an in-memory database.
		start.SqlitePragmas = nil
	}
	t := &Temporal{Address: net.JoinHostPort(opts.IP, strconv.Itoa(opts.Port))}
	if opts.UIPort != 0 {
		if err := devserver.CheckPortFree(opts.IP, opts.UIPort); err != nil {
			return nil, fmt.Errorf("temporal UI port %d is taken: %w", opts.UIPort, err)
		}
		start.UIIP = opts.IP
		start.UIPort = opts.UIPort
		t.UIURL = "http://" + net.JoinHostPort(opts.IP, strconv.Itoa(opts.UIPort))
	}
	server, err := devserver.Start(start)
	if err != nil {
		return nil, fmt.Errorf("start embedded Temporal server: %w", err)
	}
	t.stop = server.Stop
	return t, nil
}

// Stop shuts the server down; a file-backed server resumes its workflows on
// the next start.
func (t *Temporal) Stop() { t.stop() }
