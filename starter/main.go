// Command starter is the CLI marketers and operators use: publish journeys,
// enrol leads, record engagement, read a lead's status, pass on sales'
// verdicts. Every command talks to the Temporal server at TEMPORAL_ADDRESS;
// it does not link the Temporal server (the demo, which embeds one, is its
// own program: go run ./dev).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
)

type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is what commands read and write instead of process globals.
type environment struct {
	getenv config.Getenv
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func commands() map[string]command {
	return map[string]command{
		"diagram":         {"write a journey as a Mermaid flowchart", runDiagram},
		"publish":         {"validate journey files and publish each as a new immutable version", runPublish},
		"enroll":          {"enrol a lead (by e-mail and profile fields) in a journey", runEnroll},
		"event":           {"record an engagement event for a lead: stored, then signalled", runEvent},
		"status":          {"show a lead's stage, score with its breakdown, and last steps", runStatus},
		"feedback":        {"pass on sales' verdict on a hand-off: accepted, rejected or recycle", runFeedback},
		"validate":        {"check journey files and report every mistake with its line and column", runValidate},
		"journeys":        {"list published journeys, their versions and how many leads run each", runJourneys},
		"schema":          {"print the JSON Schema of journey files, for editors", runSchema},
		"task":            {"report what came of a task a journey gave (a call: reached, no_answer, ...)", runTask},
		"sends":           {"list sends by status (ambiguous ones first of all) and resolve them: mark sent, or send again", runSends},
		"preview":         {"render a content item for each persona with a sample lead; HTML to files", runPreview},
		"test-send":       {"mail a content item to your own address, marked as a test, never counted", runTestSend},
		"report":          {"the funnel, exits, touchpoints and costs of each journey version, from PostgreSQL", runReport},
		"leads":           {"list and find leads by journey, stage, lifecycle, or words of their address, name and company", runLeads},
		"remove":          {"take a lead out of its journey at once, with a reason kept as its exit", runRemove},
		"migrate":         {"move the running leads of a journey version to another version: a dry run, then -apply", runMigrate},
		"pause":           {"pause a journey: no email of it goes out until resume; timers keep their place", runPause},
		"resume":          {"resume a paused journey: the sends that waited go out", runResume},
		"import":          {"enrol the leads of a CSV file in a journey: per-row errors, progress, safe to run again", runImport},
		"simulate":        {"run a journey for a made-up lead and a script of engagement, months in a second, with expectations", runSimulate},
		"console-account": {"make a console account's line for CONSOLE_ACCOUNTS_FILE (the password read from standard input)", runConsoleAccount},
		"reconcile":       {"repair what PostgreSQL and Temporal disagree on: pending enrolments, leads stored as running", runReconcile},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &environment{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if err := dispatch(ctx, env, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if hint := store.Hint(err); hint != "" {
			fmt.Fprintln(os.Stderr, "starter:", hint)
		} else {
			fmt.Fprintln(os.Stderr, "starter:", err)
		}
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, env *environment, args []string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(env.stdout, cmds)
		if len(args) == 0 {
			return errors.New("name a command")
		}
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage(env.stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.run(ctx, env, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: starter COMMAND [flags] [args]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun starter COMMAND -h for a command's flags. Flags default to environment variables (DATABASE_URL, TEMPORAL_ADDRESS, ...).")
}

// flags makes a command's flag set with the shared configuration on it.
func flags(env *environment, name, argsUsage, about string) (*flag.FlagSet, *config.Config) {
	fs := flag.NewFlagSet("starter "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var cfg config.Config
	cfg.Register(fs, env.getenv)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: starter %s [flags] %s\n\n%s\n\nflags:\n", name, argsUsage, about)
		fs.PrintDefaults()
	}
	return fs, &cfg
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
			return nil, err
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
		return nil, errors.New(missing)
	}
	return args, nil
}
