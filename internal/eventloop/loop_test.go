package eventloop

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	poll "github.com/offload/offload/internal/wait"
)

func TestLoopRunsHandlersOneAtATime(t *testing.T) {
	l := NewLoop(4)
	defer l.Close()
	var running, maxRunning atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.Handle(context.Background(), func(rt Runtime, done func()) {
				n := running.Add(1)
				if n > maxRunning.Load() {
					maxRunning.Store(n)
				}
				running.Add(-1)
				rt.Pool(func() error { return nil }, func(error) {
					if running.Add(1) > 1 {
						maxRunning.Store(99)
					}
					running.Add(-1)
					done()
				})
			})
		}()
	}
	wg.Wait()
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("handler code overlapped: %d at once", m)
	}
}

func TestLoopPoolIsBounded(t *testing.T) {
	const pool = 3
	l := NewLoop(pool)
	defer l.Close()
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		l.Post(func() {
			l.Pool(func() error {
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				inFlight.Add(-1)
				return nil
			}, func(error) { wg.Done() })
		})
	}
	poll.Until(context.Background(), 5*time.Second, func() bool { return peak.Load() >= pool })
	close(release)
	wg.Wait()
	if p := peak.Load(); p != pool {
		t.Fatalf("peak blocking work = %d, want exactly the pool size %d", p, pool)
	}
}

func TestThreadsHoldRequests(t *testing.T) {
	th := NewThreads(2)
	defer th.Close()
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	for range 3 {
		go func() {
			_ = th.Handle(context.Background(), func(rt Runtime, done func()) {
				started <- struct{}{}
				rt.Pool(func() error { <-release; return nil }, func(error) { done() })
			})
		}()
	}
	<-started
	<-started
	select {
	case <-started:
		t.Fatal("a third request started while two workers were busy")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-started
}

func TestNewRejectsUnknownModel(t *testing.T) {
	if _, err := New(Config{Name: "fibers"}); err == nil {
		t.Fatal("unknown model accepted")
	}
}

func TestCloseTwice(t *testing.T) {
	for _, name := range []string{"node", "go", "threads"} {
		m, err := New(Config{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		m.Close()
	}
}

// BenchmarkLoopPost is the cost of queueing a callback onto the loop and running it.
func BenchmarkLoopPost(b *testing.B) {
	l := NewLoop(4)
	defer l.Close()
	done := make(chan struct{})
	n := b.N
	var count int
	b.ResetTimer()
	for range n {
		l.Post(func() {
			count++
			if count == n {
				close(done)
			}
		})
	}
	<-done
}

// BenchmarkLoopHandlePool is one request's round trip: onto the loop,
// through the thread pool, back onto the loop.
func BenchmarkLoopHandlePool(b *testing.B) {
	benchmarkHandle(b, func(rt Runtime) func(func() error, func(error)) { return rt.Pool })
}

// BenchmarkLoopHandleIO is the same round trip on the I/O path: a goroutine
// per call instead of a pool thread.
func BenchmarkLoopHandleIO(b *testing.B) {
	benchmarkHandle(b, func(rt Runtime) func(func() error, func(error)) { return rt.IO })
}

func benchmarkHandle(b *testing.B, path func(Runtime) func(func() error, func(error))) {
	l := NewLoop(4)
	defer l.Close()
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = l.Handle(ctx, func(rt Runtime, done func()) {
				path(rt)(func() error { return nil }, func(error) { done() })
			})
		}
	})
}
