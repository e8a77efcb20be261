package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies/queue/resque"
	"github.com/offload/offload/strategies/strategytest"
)

// A provider that says "slow down" (454) makes the queue retry with
// backoff, not drop the job: once the limit lifts, the job is delivered,
// and exactly once. Real redis-server, real sink, real processes.
func TestThrottledJobIsRetriedAndDeliveredOnce(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	// A hundredth of a mail per second: the bucket's one token goes to
	// the first job and does not come back within the test.
	r := &rig{t: t, redis: itest.Redis(t, itest.AppendOnly()),
		sink: itest.Sink(t, mailsink.Config{RateLimit: 0.01}), addr: itest.FreeAddr(t)}
	r.web()
	r.worker("--concurrency", "1", "--backoff", "50ms", "--retries", "20")
	base := "http://" + r.addr
	first := strategytest.PostN(t, base, 1, "first")
	strategytest.WaitDelivered(t, r.sink, first, 30*time.Second)

	throttled := strategytest.PostN(t, base, 1, "throttled")
	ctx := context.Background()
	if !wait.Until(ctx, 30*time.Second, func() bool { return r.sink.Stats().Throttled >= 2 }) {
		t.Fatalf("stats = %+v, want the job throttled (and retried) at least twice", r.sink.Stats())
	}
	if _, ok := r.sink.Delivery(throttled[0]); ok {
		t.Fatal("a throttled job was recorded as delivered")
	}
	if err := r.sink.SetRateLimit(0); err != nil {
		t.Fatal(err)
	}
	strategytest.WaitDelivered(t, r.sink, throttled, 30*time.Second)
	if d, _ := r.sink.Delivery(throttled[0]); d.Count != 1 {
		t.Fatalf("throttled job delivered %d times, want once", d.Count)
	}
	if st := r.sink.Stats(); st.Duplicates != 0 || st.Unique != 2 {
		t.Fatalf("stats = %+v, want 2 jobs each delivered once", st)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.redis.Addr()})
	defer rdb.Close()
	if n, err := rdb.LLen(ctx, resque.NewKeys("").Failed()).Result(); err != nil || n != 0 {
		t.Fatalf("failed list holds %d jobs (%v), want none", n, err)
	}
}
