package eventbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/strategies/eventbus"
)

// BenchmarkPublish is the accept path without HTTP: XADD of the event plus
// the job-index write, from 50 goroutines (like redis-benchmark's 50
// clients). Compare with `redis-benchmark -P 1 -c 50 XADD s '*' f v`.
func BenchmarkPublish(b *testing.B) {
	b.Run("appendfsync=always", func(b *testing.B) { benchPublish(b, itest.Redis(b, itest.AppendOnly())) })
	b.Run("no-persistence", func(b *testing.B) { benchPublish(b, itest.Redis(b)) })
}

func benchPublish(b *testing.B, srv *redisproc.Server) {
	rdb, err := eventbus.Connect(context.Background(), srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	keys := eventbus.Keys{Partitions: 1}
	var n atomic.Int64
	b.SetParallelism(25) // 25 x GOMAXPROCS(2) = 50 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j := job.Job{ID: fmt.Sprintf("b%d", n.Add(1)), To: "a@example.org", Subject: "bench", Kind: job.KindIO}
			if _, err := eventbus.Publish(context.Background(), rdb, keys, j); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkConsumeAck reads b.N events through one consumer (concurrency
// 8) whose handler does nothing, acknowledging each: the bus's own cost per
// event, without the mail.
func BenchmarkConsumeAck(b *testing.B) {
	b.Run("appendfsync=always", func(b *testing.B) { benchConsume(b, itest.Redis(b, itest.AppendOnly())) })
	b.Run("no-persistence", func(b *testing.B) { benchConsume(b, itest.Redis(b)) })
}

func benchConsume(b *testing.B, srv *redisproc.Server) {
	rdb, err := eventbus.Connect(context.Background(), srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	keys := eventbus.Keys{Partitions: 1}
	fill(b, rdb, keys.Stream(0), b.N)
	var done atomic.Int64
	h := eventbus.HandlerFunc(func(context.Context, eventbus.Event) error { done.Add(1); return nil })
	c, err := eventbus.NewConsumer(rdb, eventbus.ConsumerConfig{Group: "bench", Block: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, h, false)
	if err != nil {
		b.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { errc <- c.Run(cctx) }()
	if !itest.Poll(5*time.Minute, func() bool { return c.Counts().Acked >= int64(b.N) }) {
		b.Fatalf("acked %d of %d", c.Counts().Acked, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-errc
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

func fill(b *testing.B, rdb redis.UniversalClient, stream string, n int) {
	b.Helper()
	ctx := context.Background()
	for done := 0; done < n; {
		pipe := rdb.Pipeline()
		for i := 0; i < 1000 && done < n; i++ {
			id := fmt.Sprintf("f%d", done)
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"id", id, "job", `{"id":"` + id + `","to":"a@example.org","kind":"io"}`}})
			done++
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClusterPerMaster is what one master of a Redis Cluster spends
// per event: b.N events published over three partitions (one per master)
// by 32 concurrent clients, then read and acknowledged by one consumer
// group, on the local 3-master cluster. As for the queue's benchmark of
// the same name, the masters' CPU time per event is the figure that
// carries to other machines; "events/s-per-master-core" is one core
// divided by it.
func BenchmarkClusterPerMaster(b *testing.B) {
	cl := itest.Cluster(b, rediscluster.Config{})
	ctx := context.Background()
	rdb, err := eventbus.Connect(ctx, cl.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	keys := eventbus.Keys{Partitions: 3}
	before := itest.MastersCPU(b, cl)
	b.ResetTimer()
	start := time.Now()
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := n.Add(1); i <= int64(b.N); i = n.Add(1) {
				j := job.Job{ID: fmt.Sprintf("b%d", i), To: "a@example.org", Subject: "bench", Kind: job.KindIO}
				if _, err := eventbus.Publish(ctx, rdb, keys, j); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	h := eventbus.HandlerFunc(func(context.Context, eventbus.Event) error { return nil })
	c, err := eventbus.NewConsumer(rdb, eventbus.ConsumerConfig{Group: "bench", Partitions: 3, Block: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, h, false)
	if err != nil {
		b.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(cctx) }()
	if !itest.Poll(5*time.Minute, func() bool { return c.Counts().Acked >= int64(b.N) }) {
		b.Fatalf("acked %d of %d", c.Counts().Acked, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-errc
	perEvent := (itest.MastersCPU(b, cl) - before).Seconds() / float64(b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(perEvent*1e6, "master-cpu-µs/event")
	b.ReportMetric(1/perEvent, "events/s-per-master-core")
}
