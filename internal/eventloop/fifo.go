package eventloop

import "sync"

// fifo is an unbounded queue of funcs, like libuv's work queue: a slow
// consumer grows it, a producer is never refused.
type fifo struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []func()
	closed bool
}

func newFIFO() *fifo {
	f := &fifo{}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fifo) push(fn func()) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.items = append(f.items, fn)
	f.mu.Unlock()
	f.cond.Signal()
}

func (f *fifo) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cond.Broadcast()
}

// drain runs items one at a time until the fifo is closed and empty.
func (f *fifo) drain() {
	for {
		f.mu.Lock()
		for len(f.items) == 0 && !f.closed {
			f.cond.Wait()
		}
		if len(f.items) == 0 {
			f.mu.Unlock()
			return
		}
		fn := f.items[0]
		f.items[0] = nil
		f.items = f.items[1:]
		f.mu.Unlock()
		fn()
	}
}
