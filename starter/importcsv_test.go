package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
)

func TestImportCSV(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)
	file := filepath.Join(t.TempDir(), "trade-show.csv")
	require.NoError(t, os.WriteFile(file, []byte("E-mail,First Name,Company,Job Title,bant_budget,Notes\n"+
		"ada@analytical.test,Ada,Analytical Engines,CTO,approved,met at booth 4\n"+
		"bob@,Bob,Nowhere,,,\n"+
		"grace@cobol.test,Grace,COBOL Inc,Rear Admiral,,\n"+
		",Nobody,,,,\n"+
		"linus@kernel.test,Linus,Kernel,Maintainer,,,one too many\n"+
		"katherine@orbit.test,Katherine,NASA,Director,,\n"), 0o600))
	args := []string{"import", file, "-journey", "b2b-nurture", "-map", "E-mail=email", "-map", "Job Title=title", "-map", "Notes="}
	out, err := starter(args...)
	require.EqualError(t, err, "3 rows refused (listed above); the others were taken")
	for _, want := range []string{
		`row 3, column email: "bob@" is not an address`,
		"row 5, column email: empty: every lead needs an address",
		"row 6: 7 values for 6 columns",
		"6 rows in ", ": 3 enrolled in b2b-nurture, 0 skipped (already in it), 3 refused",
	} {
		require.Contains(t, out, want)
	}
	_, err = s.sink.Wait(ctx, func([]smtpsink.Message) bool { return len(s.sink.Messages()) >= 3 })
	require.NoError(t, err, "the three leads got their first email")
	ada, err := store.GetLead(ctx, s.db, lead.IDForEmail("ada@analytical.test"))
	require.NoError(t, err)
	require.Equal(t, "CTO", ada.Profile.Title)
	require.Equal(t, map[string]string{"bant_budget": "approved"}, ada.Profile.Fields, "Notes was skipped; other columns are fields")
	require.Equal(t, "import", ada.Profile.Source)

	// Run again (after an interruption, say): nothing is enrolled twice.
	out, err = starter(args...)
	require.Error(t, err)
	require.Contains(t, out, ": 0 enrolled in b2b-nurture, 3 skipped (already in it), 3 refused")
	require.Len(t, s.sink.Messages(), 3, "no lead mailed twice")

	// A file whose header has no address column says how to name one.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("Mail,Name\nx@y.test,X\n"), 0o600))
	_, err = starter("import", bad)
	require.ErrorContains(t, err, `row 1 (the header): no email column (the header has Mail, Name; name one with -map "E-mail=email")`)
}

// TestImportProgress: a bar with the count, rate and time left on a
// terminal; a plain line every so often otherwise.
func TestImportProgress(t *testing.T) {
	t.Parallel()
	importText := meterText{doing: "importing", did: "imported", unit: "rows"}
	var bar bytes.Buffer
	p := newMeter(&bar, importText, 10, true, time.Hour)
	for range 10 {
		p.add()
	}
	p.done()
	require.Contains(t, bar.String(), "importing")
	require.Contains(t, bar.String(), "(10/10, ")
	require.Contains(t, bar.String(), "rows/s)")

	var lines syncBuffer
	p = newMeter(&lines, importText, 10, false, 5*time.Millisecond)
	for range 4 {
		p.add()
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(lines.String(), "imported 4 of 10 rows") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.done()
	require.Regexp(t, `imported 4 of 10 rows \(\d+ rows/s, \S+ left\)\n`, lines.String())
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestImportWaitsForTheWorkers: with no worker taking the journeys' tasks,
// the import stops enrolling once the oldest waiting task is older than
// -max-backlog, and goes on when a worker is back; every lead is enrolled
// once and gets its first email.
func TestImportWaitsForTheWorkers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)
	// Long enough that the import outlasts the lag with which Temporal
	// reports a backlog's age.
	const rows = 4000
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := range rows {
		fmt.Fprintf(&csv, "lead%04d@list.test\n", i)
	}
	file := filepath.Join(t.TempDir(), "list.csv")
	require.NoError(t, os.WriteFile(file, []byte(csv.String()), 0o600))

	s.worker.Stop()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := starter("import", file, "-max-backlog", "1s")
		done <- result{out, err}
	}()
	enrolled := func() int {
		var n int
		require.NoError(t, s.db.QueryRow(ctx, `select count(*) from leads`).Scan(&n))
		return n
	}
	// Held: the count stops short of the list while no worker runs.
	held, last := 0, -1
	for held < 3 {
		time.Sleep(time.Second)
		if n := enrolled(); n == last {
			held++
		} else {
			held, last = 0, n
		}
		select {
		case r := <-done:
			t.Fatalf("the import ended with no worker running: %v\n%s", r.err, r.out)
		default:
		}
	}
	require.Less(t, last, rows)

	s.startWorker(t)
	r := <-done
	require.NoError(t, r.err, r.out)
	require.Contains(t, r.out, fmt.Sprintf("%d rows in ", rows))
	require.Contains(t, r.out, fmt.Sprintf(": %d enrolled in b2b-nurture, 0 skipped", rows))
	require.Regexp(t, `enrolments waited [\dhms.]+ in all for the workers \(the oldest workflow task on \S+ has waited [\dhms.]+ \(more than 1s\)\)`, r.out)
	_, err := s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= rows })
	require.NoError(t, err)
	require.Len(t, s.sink.Messages(), rows, "one first email each")
}
