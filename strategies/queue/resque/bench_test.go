package resque_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/rediscluster"
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

// BenchmarkClusterPerMaster measures what one master of a Redis Cluster
// spends per job: b.N jobs enqueued over three shards by 32 concurrent
// clients (as web requests would), then claimed and acknowledged, on the
// local 3-master cluster. Every process shares this machine's cores, so
// the wall-clock rate says little about a master; its CPU time per job
// does. Redis runs commands on one thread, so one master's ceiling is
// about one core divided by that cost: "jobs/s-per-master-core" reports
// it, and N masters on N machines are worth N times it, on paper (web and
// workers scaled out beside them).
func BenchmarkClusterPerMaster(b *testing.B) {
	cl := itest.Cluster(b, rediscluster.Config{})
	ctx := context.Background()
	c, err := resque.Open(ctx, resque.Options{URL: cl.URL(), Shards: 3})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	before := itest.MastersCPU(b, cl)
	b.ResetTimer()
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				id := fmt.Sprintf("j%d", i)
				raw, _ := resque.Encode("bench", "noop", map[string]any{"id": id})
				if err := c.ShardFor(id).Enqueue(ctx, "bench", id, raw); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	enqueued := time.Since(t0)
	var done atomic.Int64
	k, err := resque.NewConsumer(c, resque.ConsumerConfig{Queue: "bench", Size: 10, Prefetch: 100,
		Handler: func(context.Context, resque.Job) error { done.Add(1); return nil }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- k.Run(runCtx) }()
	if !itest.Poll(5*time.Minute, func() bool { return k.Counters.Processed.Load() >= int64(b.N) }) {
		b.Fatalf("acked %d of %d", k.Counters.Processed.Load(), b.N)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	cancel()
	if err := <-stopped; err != nil {
		b.Fatal(err)
	}
	spent := itest.MastersCPU(b, cl) - before
	// Jobs spread evenly over the shards (a hash of the id), so each
	// master handled about b.N/3 of them.
	perJob := spent.Seconds() / float64(b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(b.N)/enqueued.Seconds(), "enqueued/s")
	b.ReportMetric(perJob*1e6, "master-cpu-µs/job")
	b.ReportMetric(1/perJob, "jobs/s-per-master-core")
}
