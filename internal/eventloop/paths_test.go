package eventloop_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	poll "github.com/offload/offload/internal/wait"
)

// lateness records how late the loop ran its own timer (the lag monitor's
// measure), from the moment it is reset.
type lateness struct {
	mu    sync.Mutex
	worst time.Duration
	ticks int
}

func (w *lateness) record(due, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.worst = max(w.worst, now.Sub(due))
	w.ticks++
}

func (w *lateness) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.worst, w.ticks = 0, 0
}

func (w *lateness) read() (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.worst, w.ticks
}

// Under node, sends on the I/O path are sockets in epoll: 100 held open by a
// mail server that does not answer are all in flight at once, not --pool of
// them, and the loop stays free while they wait.
func TestIOSendsAreNotCappedByThePool(t *testing.T) {
	const sends = 100
	sink, err := mailsink.Start(mailsink.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	m, err := mailer.New(mailer.Config{Addr: sink.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })

	l := eventloop.NewLoop(4)
	t.Cleanup(l.Close)
	release := sink.Hold()
	t.Cleanup(release) // before l.Close, which waits for the sends
	var late lateness
	stop := l.Every(2*time.Millisecond, time.Millisecond, late.record)
	t.Cleanup(stop)

	var failed, finished atomic.Int32
	for range sends {
		j := job.Job{ID: job.NewID(), To: "held@example.org", Subject: "held", Text: "hello", Kind: job.KindIO}
		l.Post(func() { // one request's handler code, as foreground's Submit
			eventloop.Charge(l, eventloop.CostMailSend)
			l.IO(func() error { return m.Send(context.Background(), j) }, func(err error) {
				if err != nil {
					failed.Add(1)
				}
				finished.Add(1)
			})
		})
	}
	ctx := context.Background()
	if !poll.Until(ctx, 20*time.Second, func() bool { return sink.Stats().InFlight == sends }) {
		t.Fatalf("%d sends in flight at the held sink, want all %d (the pool holds 4)", sink.Stats().InFlight, sends)
	}
	late.reset()
	poll.Until(ctx, 10*time.Second, func() bool { _, n := late.read(); return n >= 50 })
	worst, ticks := late.read()
	if ticks < 50 {
		t.Fatalf("the loop's timer ran %d times in 10 s while the sends were held", ticks)
	}
	if worst >= 5*time.Millisecond {
		t.Errorf("loop lag reached %v while %d sends waited on the network; want under 5ms", worst, sends)
	}
	if n := finished.Load(); n != 0 {
		t.Fatalf("%d sends finished while the sink held them", n)
	}
	release()
	if !poll.Until(ctx, 20*time.Second, func() bool { return finished.Load() == sends }) {
		t.Fatalf("%d of %d callbacks ran after the release", finished.Load(), sends)
	}
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d sends failed", f)
	}
	if n := len(sink.Deliveries()); n != sends {
		t.Fatalf("sink has %d deliveries, want %d", n, sends)
	}
}

// Pool work is libuv's thread pool: 100 pieces run 4 at a time, in order, and
// each one's wait for a thread is on /metrics.
func TestPoolRunsFourAtATime(t *testing.T) {
	const calls = 100
	l := eventloop.NewLoop(0) // the default size, libuv's 4
	t.Cleanup(l.Close)
	var inFlight, peak atomic.Int32
	order := make(chan int, calls)
	token := make(chan struct{})
	var done atomic.Int32
	for i := range calls {
		l.Post(func() {
			l.Pool(func() error {
				n := inFlight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				order <- i
				<-token
				inFlight.Add(-1)
				return nil
			}, func(error) { done.Add(1) })
		})
	}
	ctx := context.Background()
	for left := calls; left > 0; left-- {
		want := int32(min(4, left))
		if !poll.Until(ctx, 10*time.Second, func() bool { return inFlight.Load() == want }) {
			t.Fatalf("%d pool calls running with %d left, want %d", inFlight.Load(), left, want)
		}
		token <- struct{}{}
	}
	if !poll.Until(ctx, 10*time.Second, func() bool { return done.Load() == calls }) {
		t.Fatalf("%d of %d callbacks ran", done.Load(), calls)
	}
	if p := peak.Load(); p != 4 {
		t.Fatalf("at most %d pool calls ran at once, want 4", p)
	}
	close(order)
	place := 0
	for i := range order { // FIFO, give or take the four threads' race to start
		if i < place-3 || i > place+3 {
			t.Fatalf("pool call %d started %d-th: the pool is FIFO", i, place)
		}
		place++
	}
	if n := poolWaits(t, l); n != calls {
		t.Fatalf("offload_loop_pool_wait_seconds counted %d waits, want %d", n, calls)
	}
}

// poolWaits reads the pool wait histogram's count as /metrics serves it.
func poolWaits(t *testing.T, l *eventloop.Loop) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(l)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "offload_loop_pool_wait_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no offload_loop_pool_wait_seconds on /metrics")
	return 0
}

// A cpu job in handler code holds the loop for its whole cost: a callback
// queued meanwhile runs only after it, and the loop's timer is late by it.
func TestCPUJobBlocksTheLoop(t *testing.T) {
	const cost = 200 * time.Millisecond
	l := eventloop.NewLoop(4)
	t.Cleanup(l.Close)
	var late lateness
	stop := l.Every(10*time.Millisecond, time.Millisecond, late.record)
	t.Cleanup(stop)
	started, burnt := make(chan time.Time, 1), make(chan time.Time, 1)
	l.Post(func() {
		started <- time.Now()
		job.Burn(cost)
		burnt <- time.Now()
	})
	<-started
	ran := make(chan time.Time, 1)
	l.Post(func() { ran <- time.Now() }) // another client, queued behind the job
	end, next := <-burnt, <-ran
	if next.Before(end) {
		t.Fatalf("a callback ran %v before the cpu job ended", end.Sub(next))
	}
	if worst, _ := late.read(); worst < cost-5*time.Millisecond {
		t.Fatalf("the loop's timer was at worst %v late behind a %v cpu job", worst, cost)
	}
}
