package eventbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies/eventbus"
	"github.com/offload/offload/strategies/strategytest"
)

// runEmail runs an in-process email consumer until the test ends.
func runEmail(t *testing.T, rdb redis.UniversalClient, sink *mailsink.Sink, cfg eventbus.ConsumerConfig) *eventbus.Consumer {
	t.Helper()
	m, err := mailer.New(mailer.Config{Addr: sink.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Group, cfg.Logger = "email", slog.New(slog.DiscardHandler)
	c, err := eventbus.NewConsumer(rdb, cfg, eventbus.Email{Mailer: m}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		_ = m.Close()
	})
	return c
}

func publish(t *testing.T, rdb redis.UniversalClient, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("retry-%d", i)
		j := job.Job{ID: ids[i], To: "you@example.org", Subject: "s", Text: "t", Kind: job.KindIO}
		if _, err := eventbus.Publish(context.Background(), rdb, eventbus.Keys{}, j); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func retriesMetric(t *testing.T, c *eventbus.Consumer) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "offload_eventbus_consumer_retries_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no offload_eventbus_consumer_retries_total on /metrics")
	return 0
}

// A mail outage longer than --claim-idle: every handler call fails with
// 451 while it lasts. The consumer retries in-process, keeping each entry
// pending (and fresh, so XAUTOCLAIM never takes it over), and delivers
// every event exactly once soon after the sink is back.
func TestTemporaryFailuresAreRetriedInProcess(t *testing.T) {
	srv := itest.Redis(t)
	rdb := client(t, srv)
	sink := itest.Sink(t, mailsink.Config{Delay: time.Millisecond})
	sink.Outage(2 * time.Second)
	c := runEmail(t, rdb, sink, eventbus.ConsumerConfig{
		ClaimIdle: time.Second, Concurrency: 4, MaxAttempts: 30, Backoff: 100 * time.Millisecond,
	})
	ids := publish(t, rdb, 40)
	ctx := context.Background()
	itest.Eventually(t, 10*time.Second, "retried entries pending during the outage", func() bool {
		p, err := rdb.XPending(ctx, eventbus.Keys{}.Stream(0), "email").Result()
		return sink.Stats().Outage && err == nil && p.Count > 0 && c.Counts().Retried > 0
	})
	strategytest.WaitDelivered(t, sink, ids, 30*time.Second)
	itest.Eventually(t, 10*time.Second, "every entry acknowledged", func() bool {
		p, err := rdb.XPending(ctx, eventbus.Keys{}.Stream(0), "email").Result()
		return err == nil && p.Count == 0 && c.Counts().Acked == int64(len(ids))
	})
	for _, id := range ids {
		if d, _ := sink.Delivery(id); d.Count != 1 {
			t.Errorf("job %s delivered %d times, want 1", id, d.Count)
		}
	}
	n := c.Counts()
	if n.Claimed != 0 || n.Failed != 0 {
		t.Errorf("counts %+v: want no claim and no failed delivery (the retries should have kept every entry)", n)
	}
	if got := retriesMetric(t, c); got <= 0 {
		t.Errorf("offload_eventbus_consumer_retries_total = %v, want > 0", got)
	}
	t.Logf("counts %+v, sink %+v", n, sink.Stats())
}

// When the in-process attempts run out, the entry takes the old path:
// pending, claimed after --claim-idle, dead-lettered after
// --max-deliveries (each delivery retried in-process again).
func TestExhaustedRetriesAreDeadLettered(t *testing.T) {
	srv := itest.Redis(t)
	rdb := client(t, srv)
	sink := itest.Sink(t, mailsink.Config{})
	sink.Outage(time.Hour)
	c := runEmail(t, rdb, sink, eventbus.ConsumerConfig{
		ClaimIdle: 300 * time.Millisecond, MaxDeliveries: 2, MaxAttempts: 2, Backoff: 10 * time.Millisecond,
	})
	publish(t, rdb, 1)
	ctx := context.Background()
	itest.Eventually(t, 20*time.Second, "the event in the dead-letter stream", func() bool {
		return rdb.XLen(ctx, eventbus.DeadLetters("email")).Val() == 1
	})
	dead, _ := rdb.XRange(ctx, eventbus.DeadLetters("email"), "-", "+").Result()
	if v := dead[0].Values; v["deliveries"] != "2" {
		t.Fatalf("dead letter %v: want 2 deliveries", v)
	}
	// One in-process retry per delivery: attempts after each first one.
	if n := c.Counts(); n.Retried != 2 || n.Failed != 2 || n.Claimed != 1 {
		t.Fatalf("counts %+v: want 2 retries, 2 failed deliveries, 1 claim", n)
	}
}
