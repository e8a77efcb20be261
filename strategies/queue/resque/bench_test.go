package resque_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/strategies/queue/resque"
)

// BenchmarkClaimAck measures the worker's round trip for a no-op job: batch
// claim into the inflight list, run, batched ack (10 processors, prefetch
// 100), against a private redis-server. Enqueueing is not timed.
func BenchmarkClaimAck(b *testing.B) {
	rs := itest.Redis(b)
	ctx := context.Background()
	c, err := resque.Open(ctx, resque.Options{URL: rs.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := c.Redis().Pipeline()
	for i := range b.N {
		raw, _ := resque.Encode("bench", "noop", map[string]any{"id": fmt.Sprintf("j%d", i)})
		p.RPush(ctx, c.Keys().Queue("bench"), raw)
		if p.Len() >= 1000 {
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	var done atomic.Int64
	k, err := resque.NewConsumer(c, resque.ConsumerConfig{Queue: "bench", Size: 10, Prefetch: 100,
		Handler: func(context.Context, resque.Job) error { done.Add(1); return nil }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	b.ResetTimer()
	t0 := time.Now()
	go func() { stopped <- k.Run(runCtx) }()
	if !itest.Poll(5*time.Minute, func() bool { return k.Counters.Processed.Load() >= int64(b.N) }) {
		b.Fatalf("acked %d of %d", k.Counters.Processed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "jobs/s")
	b.StopTimer()
	cancel()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
}
