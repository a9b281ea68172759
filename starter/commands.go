package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/config"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/journeys/schema"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// connection is what most commands need.
type connection struct {
	db       *pgxpool.Pool
	temporal client.Client
}

func (c *connection) Close() {
	if c.temporal != nil {
		c.temporal.Close()
	}
	if c.db != nil {
		c.db.Close()
	}
}

// connect opens the database, creating it only for a command that creates
// (a command that reads refuses a mistyped DATABASE_URL), and connects to
// Temporal when asked.
func connect(ctx context.Context, env *environment, cfg *config.Config, withTemporal bool) (*connection, error) {
	// The settings the command reads, checked before anything is opened:
	// a mistyped LOG_LEVEL or a short PAYLOAD_KEYS is named, not ignored.
	if err := cfg.Check(env.getenv); err != nil {
		return nil, err
	}
	open := store.OpenExisting
	if env.command.database == creates {
		open = store.Open
	}
	db, err := open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	conn := &connection{db: db}
	if withTemporal {
		conn.temporal, err = cfg.DialTemporal(ctx, cfg.Logger(env.stderr), db)
		if err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// connected parses a command's flags, checks it got n arguments, and
// connects: the preamble of every command that reads or changes the
// system. The caller closes the connection.
func connected(ctx context.Context, env *environment, fs *flag.FlagSet, cfg *config.Config, args []string, n int, missing string, withTemporal bool) ([]string, *connection, error) {
	args, err := positional(fs, args, n, missing)
	if err != nil {
		return nil, nil, err
	}
	conn, err := connect(ctx, env, cfg, withTemporal)
	if err != nil {
		return nil, nil, err
	}
	return args, conn, nil
}

func runPublish(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "publish", "FILE...", "Validates each journey file and stores it as a new immutable version.\nPublishing a file whose content did not change is a no-op.")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fs.Usage()
		return usageError{errors.New("name at least one journey file")}
	}
	type loaded struct {
		j   *journeys.Journey
		src []byte
	}
	var all []loaded
	var problems []string
	// The real clock: a wait_until date already past is a mistake now.
	opts := journeys.Options{Now: time.Now()}
	for _, path := range args {
		j, src, warnings, err := journeys.CheckFile(path, opts)
		if err != nil {
			problems = append(problems, inFileOrder(err, warnings))
			continue
		}
		if len(warnings) > 0 {
			fmt.Fprintln(env.stdout, warnings)
		}
		all = append(all, loaded{j, src})
	}
	if len(problems) > 0 {
		return fmt.Errorf("nothing published; fix these first:\n%s", strings.Join(problems, "\n"))
	}
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	find := func(id string) (*journeys.Journey, bool) {
		for _, l := range all {
			if l.j.ID == id {
				return l.j, true
			}
		}
		j, _, err := store.LoadJourney(ctx, conn.db, id, 0)
		return &j, err == nil
	}
	for _, l := range all {
		if err := l.j.CheckRecycle(find); err != nil {
			return fmt.Errorf("nothing published: %w", err)
		}
	}
	for _, l := range all {
		p, err := store.PublishJourney(ctx, conn.db, l.j, l.src)
		if err != nil {
			return err
		}
		if p.Created {
			fmt.Fprintf(env.stdout, "published %s version %d (%s)\n", p.JourneyID, p.Version, p.Hash[:12])
		} else {
			fmt.Fprintf(env.stdout, "%s is unchanged; still version %d\n", p.JourneyID, p.Version)
		}
	}
	return nil
}

func runEnroll(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "enroll", "EMAIL", "Enrols a lead in a journey (the latest published version). Enrolling a lead\nthat is already in a journey updates its profile.")
	var p lead.Profile
	journey := fs.String("journey", "b2b-nurture", "journey ID")
	stage := fs.String("stage", "", "stage to start at (a demo-request lead can start at evaluation)")
	profileFlags(fs, &p)
	fs.StringVar(&p.Source, "source", "cli", "where the lead came from")
	args, err := positional(fs, args, 1, "name the lead's e-mail address")
	if err != nil {
		return err
	}
	p.Email = args[0]
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	in := &ingest.Intake{DB: conn.db, Temporal: conn.temporal, TaskQueue: cfg.TaskQueue, DefaultJourney: *journey}
	res, err := in.Enroll(ctx, p, *journey, *stage)
	if err != nil {
		return err
	}
	p = res.Profile
	if res.Started {
		fmt.Fprintf(env.stdout, "enrolled %s (lead %s) in %s; workflow %s, run %s\n", p.Email, p.ID, *journey, workflows.WorkflowID(p.ID), res.RunID)
	} else {
		fmt.Fprintf(env.stdout, "%s is already in a journey; its profile was updated (workflow %s)\n", p.Email, workflows.WorkflowID(p.ID))
	}
	return nil
}

// leadID accepts an e-mail address or a lead ID.
func leadID(s string) string {
	if strings.Contains(s, "@") {
		return lead.IDForEmail(s)
	}
	return s
}

func runEvent(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "event", "EMAIL|LEAD-ID TYPE", "Records an engagement event: stored in PostgreSQL (once per ID), then\nsignalled to the lead's journey.\n\nevent types: "+lead.KnownEventTypeList())
	id := fs.String("id", "", "the sender's event ID; a new one when empty (repeat an ID and the event counts once)")
	at := fs.String("at", "", "when it happened, RFC 3339; now when empty")
	props := keyValues{}
	fs.Var(props, "prop", "event property key=value (repeatable): page=/pricing, asset=benchmark-2026")
	args, err := positional(fs, args, 2, "name the lead and the event type")
	if err != nil {
		return err
	}
	ev := lead.Event{ID: *id, LeadID: leadID(args[0]), Type: lead.EventType(args[1]), Source: "cli", Properties: props, OccurredAt: time.Now().UTC()}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("-at %q: write a time like 2026-11-23T10:00:00Z", *at)
		}
		ev.OccurredAt = t
	}
	if err := ev.Validate(); err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	in := &ingest.Intake{DB: conn.db, Temporal: conn.temporal, TaskQueue: cfg.TaskQueue, DefaultJourney: "b2b-nurture"}
	rec, err := in.Record(ctx, ev)
	if err != nil {
		return err
	}
	switch {
	case rec.Delivered && !rec.New:
		fmt.Fprintf(env.stdout, "event %s was recorded before; delivered again, the journey counts it once\n", ev.ID)
	case rec.Delivered && rec.Enrolled:
		fmt.Fprintf(env.stdout, "recorded %s %s for lead %s; it enrolled the lead (an entry rule names %s) and was delivered\n", ev.Type, ev.ID, ev.LeadID, ev.Type)
	case rec.Delivered:
		fmt.Fprintf(env.stdout, "recorded %s %s for lead %s; delivered to its journey\n", ev.Type, ev.ID, ev.LeadID)
	case !rec.New:
		fmt.Fprintf(env.stdout, "event %s was recorded before; not delivered: %s\n", ev.ID, rec.Why)
	default:
		fmt.Fprintf(env.stdout, "recorded %s %s for lead %s; not delivered: %s\n", ev.Type, ev.ID, ev.LeadID, rec.Why)
	}
	return nil
}

func runFeedback(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "feedback", "EMAIL|LEAD-ID accepted|rejected|recycle", "Passes sales' verdict on the lead's open hand-off to its journey.")
	reason := fs.String("reason", "", "why, in sales' words")
	owner := fs.String("owner", "cli", "who in sales decided")
	args, err := positional(fs, args, 2, "name the lead and the verdict")
	if err != nil {
		return err
	}
	fb := workflows.SalesFeedback{Verdict: workflows.Verdict(args[1]), Reason: *reason, Owner: *owner}
	if err := fb.Validate(); err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	in := &ingest.Intake{DB: conn.db, Temporal: conn.temporal, TaskQueue: cfg.TaskQueue}
	res, err := in.Verdict(ctx, leadID(args[0]), fb)
	if err != nil {
		return fmt.Errorf("verdict %s: %w", fb.Verdict, err)
	}
	fmt.Fprintf(env.stdout, "verdict %s taken on hand-off #%d: the lead is now %s", res.Verdict, res.HandoffID, res.Lifecycle)
	if res.Verdict == workflows.VerdictRecycle {
		fmt.Fprintf(env.stdout, ", back in nurture in %s at stage %s", res.JourneyID, res.Stage)
	}
	fmt.Fprintln(env.stdout)
	return nil
}

func runStatus(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "status", "EMAIL|LEAD-ID", "Shows a lead's journey position, lifecycle, score breakdown and last steps.")
	args, err := positional(fs, args, 1, "name the lead")
	if err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	id := leadID(args[0])
	in := &ingest.Intake{DB: conn.db, Temporal: conn.temporal}
	state, err := in.State(ctx, id)
	if err != nil {
		return err
	}
	row, st := state.Row, state.Status
	if !state.Live && !errors.Is(state.LiveErr, workflows.ErrNoJourney) {
		fmt.Fprintf(env.stderr, "(live state unavailable: %v; showing the last recorded state)\n", state.LiveErr)
	}
	printStatus(env, row, st)
	if len(state.Rule) > 0 {
		// Why it is not handed off yet: every part of the rule, met or not.
		fmt.Fprintln(env.stdout, "hand-off rule, not met yet:")
		for _, c := range state.Rule {
			mark := "missing"
			if c.Met {
				mark = "met"
			}
			fmt.Fprintf(env.stdout, "  %-8s %s\n", mark, c.Text)
		}
	}
	if row.PendingJourney != "" {
		fmt.Fprintf(env.stdout, "enrolment in %s pending since %s: Temporal has not confirmed it (starter reconcile asks again)\n",
			row.PendingJourney, row.PendingSince.UTC().Format(time.RFC3339))
	}
	counts, err := store.CountSendsByStatus(ctx, conn.db, id)
	if err != nil {
		return err
	}
	if len(counts) > 0 {
		var parts []string
		for _, status := range slices.Sorted(maps.Keys(counts)) {
			parts = append(parts, fmt.Sprintf("%d %s", counts[status], status))
		}
		fmt.Fprintf(env.stdout, "sends: %s (journey emails and notices to sales)\n", strings.Join(parts, ", "))
		if n := counts[store.SendAmbiguous]; n > 0 {
			fmt.Fprintf(env.stdout, "  %d ambiguous: went out with no reply, not sent again; see starter sends -lead %s\n", n, row.Profile.Email)
		}
	}
	handoffs, err := store.ListHandoffs(ctx, conn.db, id)
	if err != nil {
		return err
	}
	for _, h := range handoffs {
		verdict := h.Verdict
		if verdict == "" {
			verdict = "awaiting verdict"
		}
		owner := h.SalesEmail
		if h.Team != "" {
			owner += " of team " + h.Team
		}
		fmt.Fprintf(env.stdout, "hand-off #%d  %s  score %d  %s  owner %s  (%s)\n", h.ID, h.CreatedAt.Format(time.RFC3339), h.Total, h.Reason, owner, verdict)
		switch post, err := store.GetCRMPost(ctx, conn.db, h.ID); {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case post.DeliveredAt != nil:
			fmt.Fprintf(env.stdout, "  posted to the CRM %s (%d attempt(s))\n", post.DeliveredAt.UTC().Format(time.RFC3339), post.Attempts)
		default:
			fmt.Fprintf(env.stdout, "  NOT posted to the CRM yet: %d attempt(s), the last %s: %s (retried with backoff for 72 hours)\n",
				post.Attempts, post.LastAttempt.UTC().Format(time.RFC3339), post.LastError)
		}
	}
	return nil
}

func printStatus(env *environment, row store.LeadRow, st workflows.Status) {
	p := row.Profile
	w := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
	who := p.Name()
	fmt.Fprintf(w, "lead\t%s <%s>", who, p.Email)
	if job := strings.Join(slices.DeleteFunc([]string{p.Title, p.Company}, func(s string) bool { return s == "" }), ", "); job != "" {
		fmt.Fprintf(w, "  %s", job)
	}
	fmt.Fprintln(w)
	switch {
	case st.Lifecycle == workflows.LifecycleHandedOff:
		// The step it left holds no lead: it waits for sales.
		fmt.Fprintf(w, "journey\t%s v%d, waiting for sales' verdict on hand-off #%d\n", st.JourneyID, st.JourneyVersion, st.HandoffID)
	case st.TaskID != 0:
		fmt.Fprintf(w, "journey\t%s v%d, step %q, waiting for the outcome of task #%d\n", st.JourneyID, st.JourneyVersion, st.Step, st.TaskID)
	default:
		fmt.Fprintf(w, "journey\t%s v%d, step %q\n", st.JourneyID, st.JourneyVersion, st.Step)
	}
	fmt.Fprintf(w, "stage\t%s (lifecycle %s)\n", st.BuyingStage, st.Lifecycle)
	if st.ExitReason != "" {
		fmt.Fprintf(w, "exit\t%s\n", st.ExitReason)
	}
	grades := ""
	if st.Score.FitGrade != "" {
		grades = fmt.Sprintf(", grade %s%s", st.Score.FitGrade, st.Score.EngagementGrade)
	}
	fmt.Fprintf(w, "score\t%d  (fit %d, interest %d, intent %d, adjusted %d%s)\n", st.Score.Total(), st.Score.Fit, st.Score.Interest, st.Score.Intent, st.Score.Adjusted, grades)
	fmt.Fprintf(w, "\t  RULE\tAXIS\tCOUNT\tPOINTS\tNOW\n")
	for _, l := range st.Score.Breakdown {
		// POINTS is what the rule gave; NOW what that is worth after decay.
		fmt.Fprintf(w, "\t  %s\t%s\tx%d\t%+d\t%+d\n", l.Rule, l.Axis, l.Count, l.Points, l.Decayed)
	}
	fmt.Fprintf(w, "emails\t%d sent, %d events seen\n", st.EmailsSent, st.EventsSeen)
	w.Flush()
	if len(st.LastSteps) > 0 {
		fmt.Fprintln(env.stdout, "last steps:")
		for _, s := range st.LastSteps {
			fmt.Fprintf(env.stdout, "  %s  %-14s %-22s %s\n", s.At, s.Stage, s.Step+" ("+s.Kind+")", s.Outcome)
		}
	}
}

func runValidate(ctx context.Context, env *environment, args []string) error {
	fs, _ := flags(env, "validate", "FILE...", "Checks journey files and reports every mistake with file:line:column.\nNeeds no database or Temporal.")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fs.Usage()
		return usageError{errors.New("name at least one journey file")}
	}
	loaded := map[string]*journeys.Journey{}
	bad, warned := 0, 0
	opts := journeys.Options{Now: time.Now()}
	for _, path := range args {
		j, _, warnings, err := journeys.CheckFile(path, opts)
		warned += len(warnings)
		if err != nil {
			fmt.Fprintln(env.stdout, inFileOrder(err, warnings))
			var ps journeys.Problems
			if errors.As(err, &ps) {
				bad += len(ps)
			} else {
				bad++
			}
			continue
		}
		loaded[j.ID] = j
		note := ""
		if len(warnings) > 0 {
			// Warnings are worth a look but do not fail the file.
			fmt.Fprintln(env.stdout, warnings)
			note = fmt.Sprintf(", %d warning(s)", len(warnings))
		}
		fmt.Fprintf(env.stdout, "%s: ok (journey %s, %d stages, %d steps, %d content items%s)\n", path, j.ID, len(j.Stages), len(j.Steps()), len(j.Content), note)
	}
	for _, j := range loaded {
		if j.Recycle == nil || j.Recycle.Journey == "" {
			continue
		}
		// Only checkable here when the target is among the files.
		if err := j.CheckRecycle(func(id string) (*journeys.Journey, bool) { t, ok := loaded[id]; return t, ok }); err != nil && loaded[j.Recycle.Journey] != nil {
			fmt.Fprintln(env.stdout, err)
			bad++
		}
	}
	switch {
	case bad > 0 && warned > 0:
		return fmt.Errorf("%d problem(s) and %d warning(s)", bad, warned)
	case bad > 0:
		return fmt.Errorf("%d problem(s)", bad)
	}
	return nil
}

// inFileOrder lists a file's errors and warnings together, by position.
func inFileOrder(err error, warnings journeys.Problems) string {
	var ps journeys.Problems
	if errors.As(err, &ps) {
		return journeys.Merge(ps, warnings).Error()
	}
	if len(warnings) == 0 {
		return err.Error()
	}
	return err.Error() + "\n" + warnings.Error()
}

func runJourneys(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "journeys", "", "Lists published journeys: every version, its content hash, and how many leads run it.")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	list, err := store.ListJourneys(ctx, conn.db)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(env.stdout, "no journeys published yet: starter publish journeys/*.yaml")
		return nil
	}
	w := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "JOURNEY\tVERSION\tHASH\tPUBLISHED\tRUNNING\tFINISHED\tNAME")
	var paused []store.Pause
	for _, v := range list {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\t%d\t%s\n", v.JourneyID, v.Version, v.Hash[:12], v.PublishedAt.UTC().Format("2006-01-02 15:04"), v.Running, v.Finished, v.Name)
		if p, ok, err := store.JourneyPaused(ctx, conn.db, v.JourneyID); err != nil {
			return err
		} else if ok && !slices.ContainsFunc(paused, func(q store.Pause) bool { return q.JourneyID == p.JourneyID }) {
			paused = append(paused, p)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, p := range paused {
		fmt.Fprintf(env.stdout, "journey %s is PAUSED since %s: %s (starter resume %s)\n", p.JourneyID, p.Since.UTC().Format(time.RFC3339), p.Reason, p.JourneyID)
	}
	return nil
}

func runTask(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "task", "EMAIL|LEAD-ID OUTCOME", "Reports what came of the task a journey gave for a lead (a call: reached,\nno_answer, ...); the journey goes on from there.")
	note := fs.String("note", "", "a note for the record")
	args, err := positional(fs, args, 2, "name the lead and the outcome")
	if err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := workflows.SendTaskOutcome(ctx, conn.temporal, leadID(args[0]), workflows.TaskOutcome{Outcome: args[1], Note: *note})
	if err != nil {
		return fmt.Errorf("task outcome %s: %w", args[1], err)
	}
	fmt.Fprintf(env.stdout, "task #%d: outcome %s taken", res.TaskID, res.Outcome)
	if *note != "" {
		fmt.Fprint(env.stdout, " with its note")
	}
	if res.Next != "" {
		fmt.Fprintf(env.stdout, "; the lead goes on to step %q", res.Next)
	}
	fmt.Fprintln(env.stdout)
	return nil
}

func runSchema(_ context.Context, env *environment, args []string) error {
	fs, _ := flags(env, "schema", "", "Prints the JSON Schema of journey files (the same as journeys/journey.schema.json),\nfor editors: point the YAML extension at it to get completion and underlines.")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	data, err := schema.Generate()
	if err != nil {
		return err
	}
	_, err = env.stdout.Write(data)
	return err
}

func runDiagram(_ context.Context, env *environment, args []string) error {
	fs, _ := flags(env, "diagram", "FILE", "Writes a journey as a Mermaid flowchart: stages as groups, branches labelled,\nexits and the hand-off shown. Paste it into a Markdown file (GitHub renders it)\nor https://mermaid.live.")
	markdown := fs.Bool("markdown", false, "wrap it in a ```mermaid block, for Markdown files")
	args, err := positional(fs, args, 1, "name one journey file")
	if err != nil {
		return err
	}
	j, _, err := journeys.LoadFile(args[0])
	if err != nil {
		return err
	}
	if *markdown {
		fmt.Fprintln(env.stdout, "```mermaid")
	}
	if err := j.Mermaid(env.stdout); err != nil {
		return err
	}
	if *markdown {
		fmt.Fprintln(env.stdout, "```")
	}
	return nil
}
