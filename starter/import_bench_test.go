package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nurture-dev/nurture/lead"
)

// BenchmarkImport imports a CSV of IMPORT_ROWS leads (default 2,000) into
// the shipped journey on the embedded stack, with the command's default
// concurrency, and in the same run makes as many bare SignalWithStart calls
// (a workflow that only counts, 8 at once) on the same server: rows/s of
// each and their ratio.
//
//	IMPORT_ROWS=100000 go test ./starter -run '^$' -bench Import -benchtime 1x -timeout 2h
func BenchmarkImport(b *testing.B) {
	rows := 2000
	if v, err := strconv.Atoi(os.Getenv("IMPORT_ROWS")); err == nil && v > 0 {
		rows = v
	}
	ctx := context.Background()
	s, starter := startSystemForCLI(b, ctx)
	bare := bareEngine(b, s)
	for b.Loop() {
		prefix := fmt.Sprintf("r%d", time.Now().UnixNano())
		file := filepath.Join(b.TempDir(), "leads.csv")
		var sb strings.Builder
		sb.WriteString("email,first_name,company,title,industry\n")
		for i := range rows {
			fmt.Fprintf(&sb, "%s-%d@import.test,Lead %d,Company %d,CTO,saas\n", prefix, i, i, i%97)
		}
		if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
			b.Fatal(err)
		}

		began := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(rows); i = next.Add(1) - 1 {
					l := lead.Profile{ID: fmt.Sprintf("bare-%s-%d", prefix, i), Email: fmt.Sprintf("%s-%d@bare.test", prefix, i)}
					if err := bare.send(ctx, l, lead.Event{ID: "enrol", LeadID: l.ID, Type: lead.PageView, OccurredAt: time.Now()}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		floor := float64(rows) / time.Since(began).Seconds()

		began = time.Now()
		out, err := starter("import", file, "-journey", "b2b-nurture")
		if err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		rate := float64(rows) / time.Since(began).Seconds()
		if !strings.Contains(out, fmt.Sprintf(": %d enrolled in b2b-nurture", rows)) {
			b.Fatalf("not every row enrolled: %s", out)
		}
		b.ReportMetric(floor, "bare-starts/s")
		b.ReportMetric(rate, "rows/s")
		b.ReportMetric(rate/floor, "ratio")
	}
}
