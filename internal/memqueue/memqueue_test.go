package memqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/memqueue"
)

func mail(i int) job.Job {
	return job.Job{ID: fmt.Sprintf("job-%d", i), To: "a@example.org", Subject: "s", Kind: job.KindIO}
}

func start(t *testing.T, cfg memqueue.Config) *memqueue.Queue {
	t.Helper()
	q, err := memqueue.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return q
}

func TestRetriesUntilDeliveredExactlyOnce(t *testing.T) {
	sink := itest.Sink(t, mailsink.Config{FailRate: 0.3, Seed: 7})
	m, err := mailer.New(mailer.Config{Addr: sink.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	var f memqueue.Flags
	f.Concurrency, f.MaxAttempts, f.Backoff, f.Capacity = 4, 20, time.Millisecond, 1000
	q := start(t, f.Config(memqueue.Perform(m)))
	var ids []string
	for i := range 100 {
		if err := q.Push(mail(i)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, mail(i).ID)
	}
	itest.Eventually(t, 20*time.Second, "100 deliveries", func() bool { return q.Stats().Delivered == 100 })
	for _, id := range ids {
		if d, ok := sink.Delivery(id); !ok || d.Count != 1 {
			t.Errorf("job %s delivered %d times", id, d.Count)
		}
		if st, _ := q.State(id); st.Status != memqueue.StatusDone {
			t.Errorf("job %s state %+v", id, st)
		}
	}
	s := q.Stats()
	if s.Retries == 0 || s.Retries != sink.Stats().Rejected {
		t.Fatalf("retries %d, sink rejected %d: want equal and > 0", s.Retries, sink.Stats().Rejected)
	}
	if s.Held() != 0 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	var seen []memqueue.Status
	q := start(t, memqueue.Config{
		Perform:     func(context.Context, job.Job) error { calls.Add(1); return errors.New("boom") },
		MaxAttempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		OnChange: func(s memqueue.State) { mu.Lock(); seen = append(seen, s.Status); mu.Unlock() },
	})
	if err := q.Push(mail(1)); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 5*time.Second, "the job to fail", func() bool { return q.Stats().Failed == 1 })
	if calls.Load() != 3 || q.Stats().Retries != 2 {
		t.Fatalf("calls %d retries %d, want 3 and 2", calls.Load(), q.Stats().Retries)
	}
	st, _ := q.State("job-1")
	if st.Status != memqueue.StatusFailed || st.Attempts != 3 || st.Error != "boom" {
		t.Fatalf("state %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []memqueue.Status{"queued", "running", "retrying", "running", "retrying", "running", "failed"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", seen, want)
	}
}

func TestThrottleAndConcurrencyBound(t *testing.T) {
	var running, peak atomic.Int64
	release := make(chan struct{})
	q := start(t, memqueue.Config{
		Concurrency: 2,
		Perform: func(ctx context.Context, j job.Job) error {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			return nil
		},
	})
	for i := range 5 {
		_ = q.Push(mail(i))
	}
	itest.Eventually(t, 5*time.Second, "two running", func() bool { return q.Stats().InFlight == 2 })
	if s := q.Stats(); s.Queued != 3 {
		t.Fatalf("stats %+v, want 3 queued", s)
	}
	close(release)
	itest.Eventually(t, 5*time.Second, "all done", func() bool { return q.Stats().Delivered == 5 })
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}

	// 20 jobs/s: 6 jobs need at least 5 intervals (250ms).
	q2 := start(t, memqueue.Config{Rate: 20, Perform: func(context.Context, job.Job) error { return nil }})
	t0 := time.Now()
	for i := range 6 {
		_ = q2.Push(mail(i))
	}
	itest.Eventually(t, 5*time.Second, "6 done", func() bool { return q2.Stats().Delivered == 6 })
	if d := time.Since(t0); d < 240*time.Millisecond {
		t.Fatalf("6 jobs at 20/s took %v, want >= 250ms", d)
	}
}

func TestFullAndStopped(t *testing.T) {
	block := make(chan struct{})
	q, err := memqueue.New(memqueue.Config{Capacity: 2, Concurrency: 1, Perform: func(ctx context.Context, _ job.Job) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	_ = q.Push(mail(1))
	_ = q.Push(mail(2))
	if err := q.Push(mail(3)); !errors.Is(err, memqueue.ErrFull) {
		t.Fatalf("third push: %v, want ErrFull", err)
	}
	itest.Eventually(t, 5*time.Second, "one running", func() bool { return q.Stats().InFlight == 1 })
	cancel()
	<-done
	if st, _ := q.State("job-1"); st.Status != memqueue.StatusLost {
		t.Fatalf("job in flight at stop: %+v, want lost", st)
	}
	if err := q.Push(mail(4)); err == nil {
		t.Fatal("push after stop succeeded")
	}
	if _, err := memqueue.New(memqueue.Config{}); err == nil {
		t.Fatal("New without Perform succeeded")
	}
}

func BenchmarkPushPerform(b *testing.B) {
	q, _ := memqueue.New(memqueue.Config{Capacity: b.N + 1, Perform: func(context.Context, job.Job) error { return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = q.Run(ctx) }()
	b.ResetTimer()
	for i := range b.N {
		_ = q.Push(mail(i))
	}
	if !itest.Poll(time.Minute, func() bool { return q.Stats().Delivered == int64(b.N) }) {
		b.Fatal("jobs not done within a minute")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
