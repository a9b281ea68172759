package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// meterText names what a progress counts: "importing", "imported",
// "rows".
type meterText struct{ doing, did, unit string }

// meter is a bar on a terminal, a line every so often
// otherwise.
type meter struct {
	text  meterText
	bar   *progressbar.ProgressBar
	w     io.Writer
	total int64
	n     atomic.Int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// isTerminal reports whether w is a terminal (a bar) or not (lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newMeter(w io.Writer, text meterText, total int64, terminal bool, every time.Duration) *meter {
	p := &meter{text: text, w: w, total: total, start: time.Now(), stop: make(chan struct{})}
	if terminal {
		p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(text.doing),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(text.unit),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
		return p
	}
	p.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				p.line()
			}
		}
	})
	return p
}

func (p *meter) line() {
	n := p.n.Load()
	rate := float64(n) / max(time.Since(p.start).Seconds(), 1e-9)
	eta := "?"
	if p.total > 0 && rate > 0 {
		eta = (time.Duration(float64(p.total-n)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "%s %d of %d %s (%.0f %s/s, %s left)\n", p.text.did, n, p.total, p.text.unit, rate, p.text.unit, eta)
}

func (p *meter) add() {
	p.n.Add(1)
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

func (p *meter) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		return
	}
	close(p.stop)
	p.wg.Wait()
}
