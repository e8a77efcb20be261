package eventloop

import (
	"context"
	"sync"
)

// Threads is the thread-per-request model: n workers, each running one
// request from start to finish, blocking I/O included.
type Threads struct {
	tasks    chan func()
	quit     chan struct{}
	wg       sync.WaitGroup
	closeOne sync.Once
}

// NewThreads starts n request workers (default 16).
func NewThreads(n int) *Threads {
	if n <= 0 {
		n = 16
	}
	t := &Threads{tasks: make(chan func()), quit: make(chan struct{})}
	for range n {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				select {
				case task := <-t.tasks:
					task()
				case <-t.quit:
					return
				}
			}
		}()
	}
	return t
}

func (t *Threads) Name() string { return "threads" }

// Handle waits for a free worker, then runs h on it. Waiting here is the
// accept backlog of a thread-per-request server.
func (t *Threads) Handle(ctx context.Context, h func(Runtime, func())) error {
	done, ch := doneFunc()
	select {
	case t.tasks <- func() { h(inline{}, done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.quit:
		return context.Canceled
	}
	return wait(ctx, ch)
}

// Post runs fn on the next free worker.
func (t *Threads) Post(fn func()) {
	go func() {
		select {
		case t.tasks <- fn:
		case <-t.quit:
		}
	}()
}

// Close waits for running requests and stops the workers. Safe to call twice.
func (t *Threads) Close() {
	t.closeOne.Do(func() {
		close(t.quit)
		t.wg.Wait()
	})
}
