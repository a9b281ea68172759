// Command starter is the CLI marketers and operators use: publish journeys,
// enrol leads, record engagement, read a lead's status, pass on sales'
// verdicts. Every command talks to the Temporal server at TEMPORAL_ADDRESS;
// it does not link the Temporal server (the demo, which embeds one, is its
// own program: go run ./dev).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/internal/receivercmd"
	"github.com/nurture-dev/nurture/internal/workercmd"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
)

type command struct {
	summary string
	// settings are the groups of settings the command reads: its flags,
	// and what its -h lists.
	settings config.Group
	// database says what the command does with a database that does not
	// exist.
	database access
	run      func(ctx context.Context, env *environment, args []string) error
}

// access is what a command does with a database that does not exist.
type access int

const (
	// existing refuses it (store.OpenExisting): commands that read, or act
	// on leads, sends and journeys already stored, for which a missing
	// database can only be a mistyped DATABASE_URL.
	existing access = iota
	// creates creates it (store.Open): commands that bring journeys, leads
	// or events in.
	creates
)

// The settings commands read.
const (
	noSettings = config.Group(0)
	database   = config.Database
	// temporal is the connection and the log settings of the Temporal
	// client's lines.
	temporal = config.Database | config.Temporal | config.Logging
	mail     = config.Database | config.Mail
)

// environment is what commands read and write instead of process globals.
type environment struct {
	getenv config.Getenv
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// command is the one dispatch runs.
	command command
}

func commands() map[string]command {
	return map[string]command{
		"diagram":         {"write a journey as a Mermaid flowchart", noSettings, existing, runDiagram},
		"publish":         {"validate journey files and publish each as a new immutable version", database, creates, runPublish},
		"enroll":          {"enrol a lead (by e-mail and profile fields) in a journey", temporal, creates, runEnroll},
		"event":           {"record an engagement event for a lead: stored, then signalled", temporal, creates, runEvent},
		"status":          {"show a lead's stage, score with its breakdown, and last steps", temporal, existing, runStatus},
		"feedback":        {"pass on sales' verdict on a hand-off: accepted, rejected or recycle", temporal, existing, runFeedback},
		"validate":        {"check journey files and report every mistake with its line and column", noSettings, existing, runValidate},
		"journeys":        {"list published journeys, their versions and how many leads run each", database, existing, runJourneys},
		"schema":          {"print the JSON Schema of journey files, for editors", noSettings, existing, runSchema},
		"task":            {"report what came of a task a journey gave (a call: reached, no_answer, ...)", temporal, existing, runTask},
		"sends":           {"list sends by status (ambiguous ones first of all) and resolve them: mark sent, or send again", mail, existing, runSends},
		"preview":         {"render a content item for each persona with a sample lead; HTML to files", noSettings, existing, runPreview},
		"test-send":       {"mail a content item to your own address, marked as a test, never counted", mail, creates, runTestSend},
		"report":          {"the funnel, exits, touchpoints and costs of each journey version, from PostgreSQL", database, existing, runReport},
		"leads":           {"list and find leads by journey, stage, lifecycle, or words of their address, name and company", database, existing, runLeads},
		"erase":           {"erase a lead's personal data for good: PostgreSQL, its journey's runs in Temporal, its data key", temporal, existing, runErase},
		"keys":            {"after a payload key rotation, rewrap every lead's data key with the new key", config.Database | config.Temporal, existing, runKeys},
		"remove":          {"take a lead out of its journey at once, with a reason kept as its exit", temporal, existing, runRemove},
		"migrate":         {"move the running leads of a journey version to another version: a dry run, then -apply", temporal, existing, runMigrate},
		"pause":           {"pause a journey: no email of it goes out until resume; timers keep their place", database, existing, runPause},
		"resume":          {"resume a paused journey: the sends that waited go out", database, existing, runResume},
		"import":          {"enrol the leads of a CSV file in a journey: per-row errors, progress, safe to run again", temporal, creates, runImport},
		"simulate":        {"run a journey for a made-up lead and a script of engagement, months in a second, with expectations", noSettings, existing, runSimulate},
		"console-account": {"make a console account's line for CONSOLE_ACCOUNTS_FILE (the password read from standard input)", noSettings, existing, runConsoleAccount},
		"reconcile":       {"repair what PostgreSQL and Temporal disagree on: pending enrolments, leads stored as running", temporal, existing, runReconcile},
		"version":         {"print the version and the VCS revision this starter was built from", noSettings, existing, runVersion},
	}
}

// programs are the other programs this binary is, by the name it is called
// with: the image carries one binary and links worker and receiver to it,
// so the three share one copy of the SDK, gRPC and pgx (about 35 MB in all
// instead of 88).
func programs() map[string]func(args []string) int {
	return map[string]func(args []string) int{"worker": workercmd.Main, "receiver": receivercmd.Main}
}

func main() {
	if run, ok := programs()[filepath.Base(os.Args[0])]; ok {
		os.Exit(run(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &environment{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	err := dispatch(ctx, env, os.Args[1:])
	code := exitCode(err)
	if code != 0 {
		if hint := store.Hint(err); hint != "" {
			fmt.Fprintln(os.Stderr, "starter:", hint)
		} else {
			fmt.Fprintln(os.Stderr, "starter:", err)
		}
	}
	stop()
	os.Exit(code)
}

// usageError is a mistake in how a command was called (an unknown command
// or flag, a bad flag value, arguments missing or too many): the usage is
// printed and the process exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode is the process's exit status for what dispatch returned: 0 for
// success and -h, 2 for a usage error, 1 for any other failure.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	default:
		return 1
	}
}

func dispatch(ctx context.Context, env *environment, args []string) error {
	cmds := commands()
	if len(args) == 0 {
		usage(env.stderr, cmds)
		return usageError{errors.New("name a command")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(env.stdout, cmds)
		return nil
	case "-version", "--version":
		args = []string{"version"}
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage(env.stderr, cmds)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	e := *env
	e.command = cmd
	return cmd.run(ctx, &e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	names := slices.Sorted(maps.Keys(cmds))
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	fmt.Fprintln(w, "usage: starter COMMAND [flags] [args]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun starter COMMAND -h for a command's flags: each lists the settings it reads. Flags default to environment variables (DATABASE_URL, TEMPORAL_ADDRESS, ...).\nstarter --version prints the version. A mistake in how a command is called exits 2, any other failure 1.")
}

// flags makes a command's flag set with the settings it reads on it.
func flags(env *environment, name, argsUsage, about string) (*flag.FlagSet, *config.Config) {
	fs := flag.NewFlagSet("starter "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var cfg config.Config
	cfg.RegisterGroups(fs, env.getenv, env.command.settings)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: starter %s [flags] %s\n\n%s\n", name, argsUsage, about)
		if hasFlags(fs) {
			fmt.Fprint(env.stderr, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs, &cfg
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// runVersion prints the module version and the VCS revision of this build.
func runVersion(_ context.Context, env *environment, args []string) error {
	fs, _ := flags(env, "version", "", "Prints the module version and the VCS revision this starter was built from (as\nGo recorded them: a build from a work tree says (devel); one with -buildvcs=false\nrecords no revision).")
	if _, err := positional(fs, args, 0, "version takes no arguments"); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprintln(env.stdout, version(bi, ok))
	return nil
}

// version is the line starter --version prints: what the build recorded,
// and says so when it recorded nothing.
func version(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "starter: no build information (a binary built without module support)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	line := fmt.Sprintf("starter %s %s, %s", cmp.Or(bi.Main.Path, "github.com/nurture-dev/nurture"), cmp.Or(bi.Main.Version, "(devel)"), bi.GoVersion)
	rev, ok := settings["vcs.revision"]
	if !ok {
		return line + ", no VCS revision recorded (built with -buildvcs=false or outside a repository)"
	}
	line += ", " + settings["vcs"] + " revision " + rev
	if t := settings["vcs.time"]; t != "" {
		line += " of " + t
	}
	if settings["vcs.modified"] == "true" {
		line += " with uncommitted changes"
	}
	return line
}

// profileFlags registers the flags that describe a lead's profile: names,
// company, title, time zone and extra fields. Each command adds the rest
// it takes (address, source, persona).
func profileFlags(fs *flag.FlagSet, p *lead.Profile) {
	if p.Fields == nil {
		p.Fields = map[string]string{}
	}
	fs.StringVar(&p.FirstName, "first-name", "", "first name")
	fs.StringVar(&p.LastName, "last-name", "", "last name")
	fs.StringVar(&p.Company, "company", "", "company")
	fs.StringVar(&p.Title, "title", "", "job title")
	fs.StringVar(&p.TimeZone, "tz", "", "IANA time zone, like Europe/Berlin; the journey's time_zone when empty")
	fs.Var(keyValues(p.Fields), "field", "profile field key=value (repeatable): industry=saas, employees=250, bant_budget=approved, ...")
}

// keyValues parses repeated key=value arguments.
type keyValues map[string]string

func (kv keyValues) String() string {
	parts := make([]string, 0, len(kv))
	for k, v := range kv {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: write key=value", s)
	}
	kv[k] = v
	return nil
}

// parse parses flags wherever they stand among the arguments, so
// `starter enroll ada@acme.test -company Acme` works as people write it, and
// returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// positional parses a command's flags and checks it got exactly n
// arguments, printing its usage and saying what is missing when not.
func positional(fs *flag.FlagSet, args []string, n int, missing string) ([]string, error) {
	args, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(args) != n {
		fs.Usage()
		if len(args) > n {
			return nil, usageError{fmt.Errorf("too many arguments: %s", strings.Join(args[n:], " "))}
		}
		return nil, usageError{errors.New(missing)}
	}
	return args, nil
}

// misused prints the command's usage and makes err a usage error: a flag's
// value that parsed but makes no sense.
func misused(fs *flag.FlagSet, err error) error {
	fs.Usage()
	return usageError{err}
}
