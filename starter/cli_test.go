package main

import (
	"bytes"
	"context"
	"flag"
	"net/url"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/store/storetest"
)

// runStarter runs a command as main does, with the environment vars, and
// returns what it wrote, its error and the exit status main would give.
func runStarter(t *testing.T, vars map[string]string, args ...string) (string, int, error) {
	t.Helper()
	var out bytes.Buffer
	env := &environment{getenv: func(k string) string { return vars[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	err := dispatch(context.Background(), env, args)
	return out.String(), exitCode(err), err
}

func TestHelpListsOnlyTheSettingsACommandReads(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		command      string
		lists, omits []string
	}{
		{"status", []string{"-database-url", "-temporal-address", "-temporal-namespace", "-temporal-profile", "-task-queue", "-log-format"},
			[]string{"-smtp-host", "-console-accounts", "-link-secret", "-listen", "-crm-url", "-metrics-listen"}},
		{"test-send", []string{"-smtp-host", "-smtp-port", "-mail-from", "-database-url", "-to"},
			[]string{"-temporal-address", "-console-accounts", "-webhook-secrets"}},
		{"sends", []string{"-smtp-host", "-database-url"}, []string{"-temporal-address", "-console-proxy-header"}},
		{"report", []string{"-database-url"}, []string{"-temporal-address", "-smtp-host", "-log-level"}},
		{"validate", nil, []string{"-database-url", "-temporal-address", "-smtp-host"}},
		{"console-account", nil, []string{"-database-url", "-console-accounts"}},
	} {
		out, code, err := runStarter(t, nil, c.command, "-h")
		require.ErrorIs(t, err, flag.ErrHelp, c.command)
		require.Equal(t, 0, code, c.command)
		require.Contains(t, out, "usage: starter "+c.command, c.command)
		if len(c.lists) > 0 {
			require.Contains(t, out, "($DATABASE_URL)", "flags name their environment variables")
		}
		for _, want := range c.lists {
			require.Contains(t, out, "  "+want, "starter %s -h", c.command)
		}
		for _, unwanted := range c.omits {
			require.NotContains(t, out, "  "+unwanted+" ", "starter %s -h", c.command)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "name a command"},
		{[]string{"stauts", "ada@acme.test"}, 2, `unknown command "stauts"`},
		{[]string{"status", "-databse-url", "x", "ada@acme.test"}, 2, "flag provided but not defined: -databse-url"},
		{[]string{"status"}, 2, "name the lead"},
		{[]string{"status", "ada@acme.test", "grace@acme.test"}, 2, "too many arguments: grace@acme.test"},
		{[]string{"leads", "-limit", "many"}, 2, `invalid value "many" for flag -limit`},
		{[]string{"status", "-log-format", "xml", "ada@acme.test"}, 2, `LOG_FORMAT "xml": use text or json`},
		{[]string{"publish"}, 2, "name at least one journey file"},
		{[]string{"report", "extra"}, 2, "too many arguments: extra"},
		{[]string{"migrate", "-from", "1"}, 2, "name the journey: -journey ID"},
		{[]string{"migrate", "-journey", "j", "-from", "1", "-concurrency", "0"}, 2, "-concurrency 0: from 1 to 64"},
		{[]string{"leads", "-lifecycle", "hot"}, 2, `-lifecycle "hot": use one of`},
		{[]string{"report", "-format", "xml"}, 2, `-format "xml": use table, json or csv`},
		{[]string{"test-send", "../journeys/b2b-nurture.yaml", "hello"}, 2, "-to: say where the test goes"},
		{[]string{"-h"}, 0, ""},
		{[]string{"help"}, 0, ""},
		{[]string{"status", "-h"}, 0, ""},
		{[]string{"--version"}, 0, ""},
		// A failure that is not a usage error.
		{[]string{"validate", "../journeys/testdata/ten-mistakes.yaml"}, 1, "10 problem(s)"},
	} {
		out, code, err := runStarter(t, nil, c.args...)
		require.Equal(t, c.code, code, "starter %s: %v\n%s", strings.Join(c.args, " "), err, out)
		if c.says != "" {
			require.ErrorContains(t, err, c.says)
		}
		if c.code == 2 {
			require.Contains(t, out, "usage: starter", "a usage error prints the usage")
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, code, err := runStarter(t, nil, "--version")
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "starter "), out)
	again, _, _ := runStarter(t, nil, "version")
	require.Equal(t, out, again)

	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/nurture-dev/nurture", Version: "v1.4.0"}}
	require.Equal(t, "starter github.com/nurture-dev/nurture v1.4.0, go1.26.8, no VCS revision recorded (built with -buildvcs=false or outside a repository)", version(bi, true))
	bi.Main.Version = "(devel)"
	bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "8174665"}, {Key: "vcs.time", Value: "2026-03-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	require.Equal(t, "starter github.com/nurture-dev/nurture (devel), go1.26.8, git revision 8174665 of 2026-03-01T10:00:00Z with uncommitted changes", version(bi, true))
	require.Contains(t, version(nil, false), "no build information")
}

// A command that only reads, given a DATABASE_URL that names a database
// that does not exist, says so and creates nothing; one that writes
// creates it.
func TestReadOnlyCommandsCreateNoDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := storetest.NewDatabase(t) // a name only: dropped, if made, when the test ends
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	exists := func() bool { return storetest.DatabaseExists(ctx, t, dbURL) }
	vars := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": "127.0.0.1:1"}

	for _, args := range [][]string{{"status", "x@y.test"}, {"report"}, {"leads"}, {"journeys"}, {"sends"}, {"pause", "b2b-nurture"}} {
		_, code, err := runStarter(t, vars, args...)
		require.EqualError(t, err, `database "`+name+`" does not exist on the server at `+u.Host+`; check DATABASE_URL`, "starter %s", strings.Join(args, " "))
		require.Equal(t, 1, code)
		require.False(t, exists(), "starter %s created the database", strings.Join(args, " "))
	}

	out, _, err := runStarter(t, vars, "publish", "../journeys/b2b-nurture.yaml", "../journeys/recycle-nurture.yaml")
	require.NoError(t, err, out)
	require.True(t, exists(), "publish creates the database")
	_, _, err = runStarter(t, vars, "journeys")
	require.NoError(t, err, "a command that reads opens the database once it exists")
}

// A setting the command reads that makes no sense is named before anything
// is opened.
func TestBadSettingsAreNamed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vars map[string]string
		args []string
		want string
	}{
		{map[string]string{"LOG_LEVEL": "loud"}, []string{"status", "x@y.test"}, `configuration: LOG_LEVEL "loud": use debug, info, warn or error`},
		{map[string]string{"PAYLOAD_KEYS": "k1=short"}, []string{"erase", "x@y.test"}, `PAYLOAD_KEYS: payload secret "k1" is 5 bytes`},
	} {
		c.vars["DATABASE_URL"] = "postgres://127.0.0.1:1/nowhere"
		_, code, err := runStarter(t, c.vars, c.args...)
		require.ErrorContains(t, err, c.want)
		require.Equal(t, 1, code)
	}
}
