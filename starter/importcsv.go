package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/leadcsv"
	"github.com/nurture-dev/nurture/pace"
	"github.com/nurture-dev/nurture/store"
)

// maxListedErrors are printed; the rest are counted.
const maxListedErrors = 200

// importTally counts what became of the rows.
type importTally struct {
	enrolled, skipped, failed atomic.Int64
	mu                        sync.Mutex
	errs                      []leadcsv.RowError
}

func (t *importTally) fail(e leadcsv.RowError) {
	t.failed.Add(1)
	t.mu.Lock()
	t.errs = append(t.errs, e)
	t.mu.Unlock()
}

func runImport(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "import", "FILE.csv", `Enrols the leads of a CSV file in a journey. The header names the columns:
email (required), first_name, last_name, company, title, time_zone,
external_id, source fill the profile; every other column goes to the lead's
fields (bant_budget, industry, persona, ...). Headers match in any case, with
spaces for _ ("First Name"); -map renames them. A row that cannot be a lead
is reported with its row and column and the rest go on; a lead already in
the journey (or waiting to enter it) is skipped, so an interrupted import
can be run again. Enrolments wait while the journeys' oldest workflow task
or email has waited longer than -max-backlog for a worker (emails wait for
SEND_RATE), so a big list does not hold up the leads already in journeys:
the import goes at the pace the workers and the send rate keep.
Shows a progress bar on a terminal, progress lines otherwise. Exits 1 when
a row was refused.`)
	journey := fs.String("journey", "b2b-nurture", "the journey")
	stage := fs.String("stage", "", "stage to start at (default: the journey's entry rule for the source, else its first stage)")
	source := fs.String("source", "import", "the leads' source, unless a source column says otherwise")
	workers := fs.Int("concurrency", 8, "leads enrolled at once")
	maxBacklog := fs.Duration("max-backlog", 5*time.Second, "hold enrolments while the journeys' oldest waiting workflow task or email has waited longer (0: never)")
	rename := keyValues{}
	fs.Var(rename, "map", "header=field (repeatable): \"E-mail=email\", \"Job Title=title\", \"Notes=\" to skip a column")
	args, err := positional(fs, args, 1, "name the CSV file")
	if err != nil {
		return err
	}
	if *workers < 1 || *workers > 64 {
		return misused(fs, fmt.Errorf("-concurrency %d: from 1 to 64", *workers))
	}
	if *maxBacklog < 0 {
		return misused(fs, fmt.Errorf("-max-backlog %s: 0 or more", *maxBacklog))
	}
	renames := map[string]string{}
	for k, v := range rename {
		if v != "" && leadcsv.ColumnName(v) != v {
			return misused(fs, fmt.Errorf("-map %s=%s: name a field like first_name or bant_budget (or nothing, to skip the column)", k, v))
		}
		renames[leadcsv.ColumnName(k)] = leadcsv.ColumnName(v)
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() > leadcsv.MaxBytes {
		return fmt.Errorf("%s is %d bytes; at most %d (split the file)", args[0], info.Size(), leadcsv.MaxBytes)
	}
	rows, err := leadcsv.NewReader(f, renames, *source)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	total, err := countRows(args[0])
	if err != nil {
		return err
	}
	conn, err := connect(ctx, env, cfg, true)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, _, err := store.LoadJourney(ctx, conn.db, *journey, 0); err != nil {
		return fmt.Errorf("journey %q: %w (publish it first)", *journey, err)
	}
	in := &ingest.Intake{DB: conn.db, Temporal: conn.temporal, TaskQueue: cfg.TaskQueue, DefaultJourney: *journey}
	var gate *pace.Gate
	if *maxBacklog > 0 {
		gate = pace.Journeys(conn.temporal, cfg.TemporalNamespace, cfg.TaskQueue, *maxBacklog)
	}

	var tally importTally
	progress := newMeter(env.stderr, meterText{doing: "importing", did: "imported", unit: "rows"}, total, isTerminal(env.stderr), 5*time.Second)
	work := make(chan leadcsv.Row)
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for r := range work {
				err := importOne(ctx, in, gate, r, *journey, *stage)
				switch {
				case errors.Is(err, errAlreadyEnrolled):
					tally.skipped.Add(1)
				case ctx.Err() != nil:
					// Interrupted: not a mistake of the row; a rerun takes it.
					continue
				case err != nil:
					tally.fail(leadcsv.RowError{Row: r.N, Msg: strings.TrimPrefix(err.Error(), ingest.ErrInvalid.Error()+": ")})
				default:
					tally.enrolled.Add(1)
				}
				progress.add()
			}
		})
	}
	began := time.Now()
	var readErr error
	for ctx.Err() == nil {
		r, rerr, err := rows.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if rerr != nil {
			tally.fail(*rerr)
			progress.add()
			continue
		}
		select {
		case work <- r:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	progress.done()
	took := time.Since(began)
	done := tally.enrolled.Load() + tally.skipped.Load() + tally.failed.Load()
	tally.mu.Lock()
	errs := tally.errs
	tally.mu.Unlock()
	sortRowErrors(errs)
	for i, e := range errs {
		if i == maxListedErrors {
			fmt.Fprintf(env.stdout, "... and %d more\n", len(errs)-maxListedErrors)
			break
		}
		fmt.Fprintln(env.stdout, e)
	}
	fmt.Fprintf(env.stdout, "%d rows in %s (%.0f rows/s): %d enrolled in %s, %d skipped (already in it), %d refused\n",
		done, took.Round(time.Millisecond), float64(done)/max(took.Seconds(), 1e-9), tally.enrolled.Load(), *journey, tally.skipped.Load(), tally.failed.Load())
	if gate != nil && gate.Waited() > 0 {
		fmt.Fprintf(env.stdout, "enrolments waited %s in all for the workers (%s)\n", gate.Waited().Round(time.Second), gate.Why())
	}
	switch {
	case readErr != nil:
		return fmt.Errorf("%s: %w; the rows before it were taken (run the import again once fixed: they are skipped)", args[0], readErr)
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted after %d rows; run it again to go on (leads enrolled are skipped)", done)
	case tally.failed.Load() > 0:
		return fmt.Errorf("%d rows refused (listed above); the others were taken", tally.failed.Load())
	}
	return nil
}

var errAlreadyEnrolled = errors.New("already in the journey")

// importOne enrols a row's lead unless its journey has it already: a rerun
// after an interruption skips what was done.
func importOne(ctx context.Context, in *ingest.Intake, gate *pace.Gate, r leadcsv.Row, journey, stage string) error {
	prev, err := store.GetLead(ctx, in.DB, r.Profile.ID)
	switch {
	case err == nil && prev.JourneyID == journey && prev.EndedAt == nil && prev.PendingJourney == "":
		// Its journey runs and has recorded it. (A lead left pending by an
		// interrupted run is enrolled again: a journey that did start
		// takes it as a profile update, one that did not starts now.)
		return errAlreadyEnrolled
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	if gate != nil {
		if err := gate.Wait(ctx); err != nil {
			return err
		}
	}
	_, err = in.Enroll(ctx, r.Profile, journey, stage)
	return err
}

func sortRowErrors(errs []leadcsv.RowError) {
	slices.SortStableFunc(errs, func(a, b leadcsv.RowError) int { return a.Row - b.Row })
}

// countRows counts a CSV file's rows after the header, for the progress
// bar's total and ETA; -1 when it cannot be read as CSV to the end (the
// import says why).
func countRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var n int64
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			return max(n-1, 0), nil
		}
		if err != nil {
			return -1, nil
		}
		n++
	}
}
