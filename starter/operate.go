package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nurture-dev/nurture/delivery"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// Subcommands of sends.
const (
	sendsMarkSent = "mark-sent"
	sendsResend   = "resend"
)

func runSends(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "sends", "[mark-sent KEY | resend KEY]",
		`Lists sends, by default the ambiguous ones: their message went out and the
SMTP server's reply never came, so nurture does not know whether it arrived
and will not send it again on its own. Decide each:

  starter sends mark-sent KEY -note "lead replied to it"   it arrived
  starter sends resend KEY -note "not in the server log"   send the same
      message again, byte for byte and with its Message-ID (receivers that
      got the first fold the two); uses the SMTP settings below`)
	status := fs.String("status", string(store.SendAmbiguous), "statuses to list, comma-separated (claimed, connected, data, sent, failed, rejected, ambiguous), or all")
	leadFlag := fs.String("lead", "", "only this lead's sends (e-mail or lead ID)")
	limit := fs.Int("limit", 100, "list at most this many")
	note := fs.String("note", "", "why (kept with the send): who decided, on what evidence")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	if len(args) == 0 {
		var statuses []store.SendStatus
		if *status != "all" {
			for _, s := range strings.Split(*status, ",") {
				statuses = append(statuses, store.SendStatus(strings.TrimSpace(s)))
			}
		}
		id := ""
		if *leadFlag != "" {
			id = leadID(*leadFlag)
		}
		rows, err := store.ListSends(ctx, conn.db, id, *limit, statuses...)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			fmt.Fprintf(env.stdout, "no sends with status %s\n", *status)
			return nil
		}
		w := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "STATUS\tCLAIMED\tTO\tCONTENT\tSUBJECT\tKEY")
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Status, r.ClaimedAt.UTC().Format(time.RFC3339), r.To, r.ContentID, r.Subject, r.Key)
		}
		return w.Flush()
	}
	if len(args) != 2 || (args[0] != sendsMarkSent && args[0] != sendsResend) {
		fs.Usage()
		return fmt.Errorf("use: starter sends, starter sends %s KEY, or starter sends %s KEY", sendsMarkSent, sendsResend)
	}
	if strings.TrimSpace(*note) == "" {
		return errors.New("say why with -note: it is kept with the send, for whoever looks next")
	}
	key := args[1]
	switch args[0] {
	case sendsMarkSent:
		if err := store.ResolveSent(ctx, conn.db, key, "marked sent: "+*note); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "send %s marked sent\n", key)
		return nil
	default:
		mail, err := email.New(cfg.SMTP)
		if err != nil {
			return err
		}
		defer mail.Close()
		res, err := delivery.Resend(ctx, conn.db, mail, key, "resent: "+*note)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "send %s: the SMTP server at %s:%d accepted the message again (%s)\n", key, cfg.SMTP.Host, cfg.SMTP.Port, res.Outcome)
		return nil
	}
}

func runReconcile(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "reconcile", "",
		`Repairs what PostgreSQL and Temporal disagree on:
  - enrolments Temporal never confirmed (refused, or the answer was lost) are
    asked again, under the journey's entry and re-entry rules;
  - leads stored as in a journey whose workflow has closed get its final state.
It prints each finding and what it did; with -dry-run it only prints.`)
	olderThan := fs.Duration("older-than", time.Minute, "only enrolments pending for longer than this (younger ones may be under way)")
	dryRun := fs.Bool("dry-run", false, "report, change nothing")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	in := &ingest.Intake{DB: conn.db, Temporal: conn.temporal, TaskQueue: cfg.TaskQueue}
	repairs, err := in.Reconcile(ctx, *olderThan, *dryRun)
	failed := 0
	for _, r := range repairs {
		line := fmt.Sprintf("%s (%s): %s", r.Email, r.LeadID, r.Found)
		switch {
		case r.Err != nil:
			failed++
			line += "; not repaired: " + r.Err.Error()
		case r.Did != "":
			line += "; " + r.Did
		case *dryRun:
			line += "; (dry run)"
		}
		fmt.Fprintln(env.stdout, line)
	}
	if err != nil {
		return err
	}
	if len(repairs) == 0 {
		fmt.Fprintln(env.stdout, "PostgreSQL and Temporal agree: nothing to repair")
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d finding(s) not repaired", failed, len(repairs))
	}
	return nil
}

func runLeads(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "leads", "", "Lists leads, most recently changed first: by journey, stage, lifecycle, and a\nsearch in address, name and company.")
	var f store.LeadFilter
	fs.StringVar(&f.JourneyID, "journey", "", "the journey they are (or were last) in")
	fs.StringVar(&f.Stage, "stage", "", "buying stage: interest, consideration, evaluation, ...")
	fs.StringVar(&f.Lifecycle, "lifecycle", "", "nurturing, mql, handed_off, sql, disqualified or exited")
	fs.StringVar(&f.Search, "search", "", "part of the address, name or company")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many")
	if _, err := positional(fs, args, 0, ""); err != nil {
		return err
	}
	if all := workflows.Lifecycles(); f.Lifecycle != "" && !slices.Contains(all, workflows.Lifecycle(f.Lifecycle)) {
		names := make([]string, len(all))
		for i, l := range all {
			names[i] = string(l)
		}
		return misused(fs, fmt.Errorf("-lifecycle %q: use one of %s", f.Lifecycle, strings.Join(names, ", ")))
	}
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := store.FindLeads(ctx, conn.db, f)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		fmt.Fprintln(env.stdout, "no leads match")
		return nil
	}
	w := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tNAME\tCOMPANY\tJOURNEY\tSTAGE\tLIFECYCLE\tSCORE\tCHANGED")
	for _, l := range rows {
		journey := l.JourneyID
		if journey != "" {
			journey += fmt.Sprintf(" v%d", l.JourneyVersion)
		}
		lifecycle := l.Lifecycle
		if l.ExitReason != "" {
			lifecycle += " (" + l.ExitReason + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", l.Profile.Email, strings.TrimSpace(l.Profile.FirstName+" "+l.Profile.LastName),
			l.Profile.Company, journey, l.BuyingStage, lifecycle, l.Score, l.UpdatedAt.UTC().Format("2006-01-02 15:04"))
	}
	return w.Flush()
}

func runRemove(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "remove", "EMAIL|LEAD-ID", "Takes a lead out of its journey at once, wherever it is (waiting, or handed\noff and waiting for sales), with a reason kept as its exit: the journey\nends with exit reason removed. The lead and its history stay.")
	reason := fs.String("reason", "", "why (required): kept with the lead's exit")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the journey to carry the removal out (it waits for a send in flight)")
	args, err := positional(fs, args, 1, "name the lead")
	if err != nil {
		return err
	}
	if err := (workflows.Removal{Reason: *reason}).Validate(); err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	id := leadID(args[0])
	res, err := workflows.RemoveLead(ctx, conn.temporal, id, workflows.Removal{Reason: *reason}, *wait)
	if err != nil {
		return fmt.Errorf("remove %s: %w", args[0], err)
	}
	fmt.Fprintf(env.stdout, "removed %s from %s at step %q (stage %s, was %s): %s\n", args[0], res.JourneyID, res.Step, res.Stage, res.Lifecycle, *reason)
	return nil
}

func runPause(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "pause", "JOURNEY", "Pauses a journey: no email of it goes out until starter resume. A send that\nfalls due waits where it is (its lead waits with it: engagement that comes\nmeanwhile is kept, and scored when the send has gone) and goes out on\nresume, within the send window; the timers of leads that are waiting keep\ntheir place.")
	reason := fs.String("reason", "", "why (shown with the pause)")
	args, conn, err := connected(ctx, env, fs, cfg, args, 1, "name the journey", false)
	if err != nil {
		return err
	}
	defer conn.Close()
	paused, err := store.PauseJourney(ctx, conn.db, args[0], *reason)
	if err != nil {
		return err
	}
	if !paused {
		p, _, err := store.JourneyPaused(ctx, conn.db, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "journey %s was paused already, since %s (%s)\n", args[0], p.Since.UTC().Format(time.RFC3339), p.Reason)
		return nil
	}
	fmt.Fprintf(env.stdout, "paused journey %s: its sends wait until starter resume %s\n", args[0], args[0])
	return nil
}

func runResume(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "resume", "JOURNEY", "Resumes a paused journey: the sends that waited go out within a minute\n(within the send window).")
	args, conn, err := connected(ctx, env, fs, cfg, args, 1, "name the journey", false)
	if err != nil {
		return err
	}
	defer conn.Close()
	resumed, err := store.ResumeJourney(ctx, conn.db, args[0])
	if err != nil {
		return err
	}
	if !resumed {
		return fmt.Errorf("journey %q is not paused", args[0])
	}
	fmt.Fprintf(env.stdout, "resumed journey %s: sends that waited go out within a minute\n", args[0])
	return nil
}
