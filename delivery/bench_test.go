package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nurture-dev/nurture/delivery"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/smtpsink"
)

// BenchmarkSend measures what recording a send's phases costs: messages
// per second through delivery.Send (claim, connected, data, sent: four
// PostgreSQL writes around the SMTP conversation) against the same
// messages transmitted bare to the same SMTP sink, in the same run, by 8
// concurrent senders as a worker has, with an SMTP server that replies at
// once and one that takes 20 ms (a near relay).
// Run: go test ./delivery -run '^$' -bench Send -benchtime 400x -count 3
func BenchmarkSend(b *testing.B) {
	const senders = 8
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("reply-%s", latency), func(b *testing.B) {
			ctx := context.Background()
			bd := setupBench(b, smtpsink.Faults{Latency: latency})
			run := func(send func(i int) error) time.Duration {
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range senders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
							if err := send(i); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}
			b.ResetTimer()
			bare := run(func(i int) error {
				_, raw := bd.render(fmt.Sprintf("bare-%d", i))
				return bd.mail.Transmit(ctx, bd.lead.Email, raw, email.Hooks{})
			})
			ours := run(func(i int) error {
				s, raw := bd.render(fmt.Sprintf("k-%d", i))
				_, err := delivery.Send(ctx, bd.db, bd.mail, s, raw, delivery.Options{})
				return err
			})
			b.ReportMetric(float64(b.N)/bare.Seconds(), "bare-sends/s")
			b.ReportMetric(float64(b.N)/ours.Seconds(), "recorded-sends/s")
			b.ReportMetric(bare.Seconds()/ours.Seconds(), "ratio")
		})
	}
}
