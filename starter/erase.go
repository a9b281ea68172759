package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

func runErase(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "erase", "EMAIL|LEAD-ID", `Erases a lead's personal data, for good (a right-to-erasure request):

  PostgreSQL  its address, names, company, title, time zone, source, profile
              fields and CRM ID; its events' details; the address, subject,
              kept copy and SMTP replies of each email sent to it and its
              reserved send slots; its tasks' titles and notes; sales'
              free-text verdict reasons; the CRM's answers; its score
              reasons; its suppression entry; and its data key. What reports
              count stays, naming no one: the lead's ID, lifecycle, stage,
              score, dates, costs and hand-offs.
  Temporal    every run of its journey (the running one is stopped) with its
              history; the command waits until Temporal has them gone.
  Elsewhere   copies of its histories (backups, archives) hold its journey
              sealed with its data key, now destroyed: nobody can read it.
              (Set PAYLOAD_KEYS; without it they are plain text.)

An erased lead is never enrolled again, takes no events and is mailed
nothing. Running it again finishes an erase that was cut short.`)
	args, err := positional(fs, args, 1, "name the lead: its address or lead ID")
	if err != nil {
		return err
	}
	id := leadID(args[0])
	if _, err := uuid.Parse(id); err != nil {
		return misused(fs, fmt.Errorf("%q is neither an address nor a lead ID", args[0]))
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	// PostgreSQL first: from then on nothing can enrol or signal the lead
	// (an event racing the erase would otherwise start its journey again),
	// and no process makes it a new data key.
	e, err := store.EraseLead(ctx, conn.db, id, string(workflows.LifecycleExited), string(workflows.ExitErased))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no lead %s in this database: nothing erased", args[0])
	}
	if err != nil {
		return err
	}
	runs, err := workflows.DeleteLeadRuns(ctx, conn.temporal, cfg.TemporalNamespace, id, time.Minute)
	if err != nil {
		return fmt.Errorf("%w; its data in PostgreSQL is erased, run starter erase %s again to finish", err, id)
	}
	var what []string
	if e.Already {
		what = append(what, "(its data in PostgreSQL was erased before)")
	} else {
		what = append(what, "its profile", fmt.Sprintf("the details of %d events", e.Events),
			fmt.Sprintf("the address and subject of %d emails", e.Sends), fmt.Sprintf("%d task notes", e.Tasks))
		if e.Suppressed {
			what = append(what, "its suppression entry")
		}
		what = append(what, "its data key")
	}
	fmt.Fprintf(env.stdout, "erased lead %s: %s; deleted %d journey runs from Temporal\n", id, strings.Join(what, ", "), runs)
	if cfg.PayloadKeys == "" {
		fmt.Fprintln(env.stdout, "PAYLOAD_KEYS is not set: copies of its histories made before (backups, archives) hold its data in plain text")
	}
	return nil
}

func runKeys(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "keys", "rewrap", `Rotating the payload keys (PAYLOAD_KEYS): put the new key first and restart
the workers, the receivers and the console; new payloads are then sealed
with it. "starter keys rewrap" then wraps every lead's data key with the new
key, so the old one is needed only for the payloads it sealed itself; drop
it from PAYLOAD_KEYS once Temporal keeps no history written before the
rotation (the namespace's retention after the last of them closed).`)
	args, err := positional(fs, args, 1, "say what to do: rewrap")
	if err != nil {
		return err
	}
	if args[0] != "rewrap" {
		return misused(fs, fmt.Errorf("keys %s: the only action is rewrap", args[0]))
	}
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	c, err := cfg.PayloadCodec(ctx, conn.db)
	if err != nil {
		return err
	}
	if c == nil {
		return errors.New("PAYLOAD_KEYS is not set: there is nothing to rewrap with")
	}
	n, err := c.Rewrap(ctx, func(done int) { fmt.Fprintf(env.stderr, "rewrapped %d data keys\n", done) })
	if err != nil {
		return fmt.Errorf("rewrapped %d data keys, then: %w", n, err)
	}
	fmt.Fprintf(env.stdout, "rewrapped %d data keys with payload key %s\n", n, c.Current())
	return nil
}
