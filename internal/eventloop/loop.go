package eventloop

import (
	"context"
	"sync"
	"time"
)

// Loop is the node model: one goroutine runs all handler code, in the order
// it was queued; network I/O runs off it without a limit, and a bounded pool
// runs the work Node gives its thread pool. Like Node's loop it also runs a
// timer phase, so a timer's lateness is exactly how long the loop kept it
// waiting.
type Loop struct {
	mu      sync.Mutex
	queue   []func() // unbounded, like Node's: a slow loop grows it, never refuses
	closed  bool
	wake    chan struct{}
	stopped chan struct{}

	timerMu sync.Mutex
	timer   *loopTimer

	work     *fifo // pool work waiting for a pool goroutine
	poolWG   sync.WaitGroup
	ioMu     sync.Mutex // guards ioClosed against ioWG.Add racing Close
	ioClosed bool
	ioWG     sync.WaitGroup
	closeOne sync.Once

	stats *loopStats // what /metrics shows about the two paths
}

type loopTimer struct {
	every time.Duration
	res   time.Duration
	fn    func(due, now time.Time)
	due   time.Time
	t     *time.Timer
}

// NewLoop starts a loop with a pool of poolSize goroutines (default 4).
func NewLoop(poolSize int) *Loop {
	if poolSize <= 0 {
		poolSize = 4
	}
	l := &Loop{wake: make(chan struct{}, 1), stopped: make(chan struct{}), work: newFIFO(), stats: newLoopStats()}
	go l.run()
	for range poolSize {
		l.poolWG.Add(1)
		go func() {
			defer l.poolWG.Done()
			l.work.drain()
		}()
	}
	return l
}

func (l *Loop) Name() string { return "node" }

// Post queues fn to run on the loop.
func (l *Loop) Post(fn func()) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, fn)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Len is how many callbacks wait for the loop.
func (l *Loop) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// Every runs fn on the loop every d, as a chain of setTimeout calls: the
// next run is due d after the previous one ran. fn gets the time it was due
// and the time it ran. One timer per loop; a second call replaces the first.
//
// res refines the timer while the loop is busy without waking an idle loop
// more often than every d: a callback that runs longer than res counts as
// having kept a timer waiting that fell due res after the callback started
// (the loop runs timers between callbacks, so one armed at the previous
// timers phase would have been due then). Idle wake-ups cost real CPU on a
// VM; this is how a 1 ms resolution costs no more than a 10 ms interval.
func (l *Loop) Every(d, res time.Duration, fn func(due, now time.Time)) (stop func()) {
	l.timerMu.Lock()
	if l.timer != nil {
		l.timer.t.Stop()
	}
	lt := &loopTimer{every: d, res: res, fn: fn, due: time.Now().Add(d), t: time.NewTimer(d)}
	l.timer = lt
	l.timerMu.Unlock()
	l.Post(func() {}) // let the loop pick up the new timer
	return func() {
		l.timerMu.Lock()
		defer l.timerMu.Unlock()
		if l.timer == lt {
			lt.t.Stop()
			l.timer = nil
		}
	}
}

func (l *Loop) currentTimer() *loopTimer {
	l.timerMu.Lock()
	defer l.timerMu.Unlock()
	return l.timer
}

// runTimer is the timers phase: it runs the timer if it is due, or if the
// callback that started at cbStart held the loop past the resolution.
func (l *Loop) runTimer(lt *loopTimer, fired bool, cbStart time.Time) {
	if lt == nil {
		return
	}
	now := time.Now()
	due := lt.due
	if !cbStart.IsZero() && lt.res > 0 && now.Sub(cbStart) > lt.res {
		if v := cbStart.Add(lt.res); v.Before(due) {
			due = v
		}
	}
	if !fired && now.Before(due) {
		return
	}
	lt.fn(due, now)
	lt.due = time.Now().Add(lt.every)
	lt.t.Reset(lt.every)
}

func (l *Loop) run() {
	defer close(l.stopped)
	var batch []func()
	for {
		l.mu.Lock()
		batch, l.queue = l.queue, batch[:0]
		closed := l.closed
		l.mu.Unlock()
		for i, fn := range batch {
			start := time.Now()
			fn()
			batch[i] = nil
			l.runTimer(l.currentTimer(), false, start) // the timers phase between callbacks
		}
		if len(batch) > 0 {
			continue
		}
		if closed {
			return
		}
		lt := l.currentTimer()
		var tc <-chan time.Time
		if lt != nil {
			tc = lt.t.C
		}
		select {
		case <-l.wake:
		case <-tc:
			l.runTimer(lt, true, time.Time{})
		}
	}
}

// Handle posts h to the loop and waits for it to call done.
func (l *Loop) Handle(ctx context.Context, h func(Runtime, func())) error {
	done, ch := doneFunc()
	l.Post(func() { h(l, done) })
	return wait(ctx, ch)
}

// IO starts fn on its own goroutine at once and queues cb back onto the
// loop: a socket libuv watches, however many are open. Nothing waits for a
// pool thread, so a slow mail server holds only the requests that wait for
// it.
func (l *Loop) IO(fn func() error, cb func(error)) {
	l.ioMu.Lock()
	if l.ioClosed {
		l.ioMu.Unlock()
		return
	}
	l.ioWG.Add(1)
	l.ioMu.Unlock()
	l.stats.ioInFlight.Add(1)
	go func() {
		defer l.ioWG.Done()
		err := fn()
		l.stats.ioInFlight.Add(-1)
		l.Post(func() { cb(err) })
	}()
}

// Pool runs fn on a pool goroutine and queues cb back onto the loop.
// Work beyond the pool's size waits its turn, FIFO, as in libuv; how long
// it waited is recorded for /metrics.
func (l *Loop) Pool(fn func() error, cb func(error)) {
	queued := time.Now()
	l.stats.poolQueued.Add(1)
	l.work.push(func() {
		l.stats.poolQueued.Add(-1)
		l.stats.poolRuns.Add(1)
		l.stats.poolWait.Observe(time.Since(queued).Seconds())
		err := fn()
		l.Post(func() { cb(err) })
	})
}

// Close lets I/O in flight, queued pool work and callbacks finish, then
// stops. Work posted after Close is dropped. Safe to call twice.
func (l *Loop) Close() {
	l.closeOne.Do(func() {
		l.ioMu.Lock()
		l.ioClosed = true
		l.ioMu.Unlock()
		l.ioWG.Wait()
		l.work.close()
		l.poolWG.Wait()
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
		<-l.stopped
		if lt := l.currentTimer(); lt != nil {
			lt.t.Stop()
		}
	})
}
