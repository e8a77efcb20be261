// Package memqueue is the worker that keeps its jobs in memory: a queue, a
// throttle (jobs per second), a bound on concurrent sends, and retries with
// exponential backoff up to a limit. It is the talk's worker loop
// ("Message Queue, Throttling, Retry") written once and used by both
// localipc's email worker and every pubsub subscriber, so the two strategies
// differ only in how a job reaches it.
//
// Everything it holds lives in this process's memory: when the process dies,
// the queue, the jobs in flight and the jobs waiting for a retry die with it.
// That is not a bug to fix here; it is what the strategies built on it are
// measured for. Run logs how many jobs it drops when it is stopped.
package memqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/offload/offload/internal/backoff"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/joblog"
)

// ErrFull is returned by Push when the queue holds Capacity jobs.
var ErrFull = errors.New("in-memory queue is full")

// Config configures a Queue. Zero values take the documented defaults.
type Config struct {
	// Perform runs one job; required. An error that Retryable accepts is
	// tried again after a backoff.
	Perform func(ctx context.Context, j job.Job) error
	// Retryable says whether a failed attempt may succeed later; default:
	// every error is retryable.
	Retryable func(error) bool
	// Rate is the throttle in jobs started per second; 0 means no throttle.
	Rate float64
	// Concurrency bounds jobs performed at once; default 4.
	Concurrency int
	// MaxAttempts is how many times a job is tried before it counts as
	// failed; default 5.
	MaxAttempts int
	// Backoff is the wait before the first retry, doubled for each further
	// one (with jitter) up to MaxBackoff; defaults 100ms and 5s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Capacity bounds the jobs held (queued, waiting to retry or running);
	// default 100000.
	Capacity int
	// Recent is how many finished jobs State remembers; default 10000.
	Recent int
	// OnChange, when set, is called on every state change of a job, from
	// the goroutine that made it: it must not block.
	OnChange func(State)
	Logger   *slog.Logger // default slog.Default()
}

func (c Config) withDefaults() Config {
	if c.Retryable == nil {
		c.Retryable = func(error) bool { return true }
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff == 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Capacity == 0 {
		c.Capacity = 100_000
	}
	if c.Recent == 0 {
		c.Recent = 10_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Perform == nil:
		return errors.New("memqueue: Perform is required")
	case c.Rate < 0:
		return fmt.Errorf("memqueue: rate %v: must not be negative", c.Rate)
	case c.Concurrency < 1:
		return fmt.Errorf("memqueue: concurrency %d: must be at least 1", c.Concurrency)
	case c.MaxAttempts < 1:
		return fmt.Errorf("memqueue: max attempts %d: must be at least 1", c.MaxAttempts)
	case c.Backoff < 0 || c.MaxBackoff < c.Backoff:
		return fmt.Errorf("memqueue: backoff %v..%v: want 0 <= backoff <= max backoff", c.Backoff, c.MaxBackoff)
	case c.Capacity < 1:
		return fmt.Errorf("memqueue: capacity %d: must be at least 1", c.Capacity)
	}
	return nil
}

// Queue is an in-memory job queue with its workers. Push may be called
// before, during and after Run; jobs pushed after Run returned are dropped.
type Queue struct {
	cfg   Config
	wake  chan struct{} // a job was queued
	sem   chan struct{} // one token per running job
	pacer pacer

	mu      sync.Mutex
	items   []entry // FIFO; items[0] is next
	stats   Stats
	track   *joblog.Log[State]
	stopped bool
	timers  map[*time.Timer]struct{}
}

type entry struct {
	j        job.Job
	attempts int // attempts already made
}

// New checks cfg and returns a Queue; call Run to start working.
func New(cfg Config) (*Queue, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Queue{
		cfg:    cfg,
		wake:   make(chan struct{}, 1),
		sem:    make(chan struct{}, cfg.Concurrency),
		pacer:  newPacer(cfg.Rate),
		track:  newTracker(cfg.Recent),
		timers: map[*time.Timer]struct{}{},
	}, nil
}

// Push adds j at the back of the queue. It never blocks.
func (q *Queue) Push(j job.Job) error {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return fmt.Errorf("push %s: queue stopped", j.ID)
	}
	if q.heldLocked() >= q.cfg.Capacity {
		q.stats.Dropped++
		q.mu.Unlock()
		return fmt.Errorf("push %s: %w (%d jobs)", j.ID, ErrFull, q.cfg.Capacity)
	}
	q.stats.Received++
	q.items = append(q.items, entry{j: j})
	st := q.setState(j.ID, StatusQueued, 0, "")
	q.mu.Unlock()
	q.notify(st)
	q.signal()
	return nil
}

func (q *Queue) heldLocked() int {
	return len(q.items) + q.stats.InFlight + q.stats.Retrying
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) notify(st State) {
	if q.cfg.OnChange != nil {
		q.cfg.OnChange(st)
	}
}

// Run dispatches jobs until ctx ends, then waits for the jobs in flight to
// return (their sends are cancelled with ctx) and reports what it dropped.
func (q *Queue) Run(ctx context.Context) error {
	var running sync.WaitGroup
	defer func() {
		running.Wait()
		q.stop()
	}()
	for {
		e, ok := q.next(ctx)
		if !ok {
			return nil
		}
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() { <-q.sem }()
			q.perform(ctx, e)
		}()
	}
}

// next waits for a job, a free slot and the throttle, in that order, so a
// job counts as running only once it is really being sent.
func (q *Queue) next(ctx context.Context) (entry, bool) {
	for {
		q.mu.Lock()
		n := len(q.items)
		q.mu.Unlock()
		if n > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return entry{}, false
		case <-q.wake:
		}
	}
	select {
	case <-ctx.Done():
		return entry{}, false
	case q.sem <- struct{}{}:
	}
	if err := q.pacer.wait(ctx); err != nil {
		<-q.sem
		return entry{}, false
	}
	q.mu.Lock()
	e := q.items[0]
	q.items[0] = entry{}
	q.items = q.items[1:]
	q.stats.InFlight++
	q.mu.Unlock()
	return e, true
}

func (q *Queue) perform(ctx context.Context, e entry) {
	e.attempts++
	q.mu.Lock()
	st := q.setState(e.j.ID, StatusRunning, e.attempts, "")
	q.mu.Unlock()
	q.notify(st)

	err := q.cfg.Perform(ctx, e.j)

	q.mu.Lock()
	q.stats.InFlight--
	switch {
	case err == nil:
		q.stats.Delivered++
		st = q.setState(e.j.ID, StatusDone, e.attempts, "")
	case ctx.Err() != nil:
		// Stopped mid-send: the job is dropped with the rest of memory.
		st = q.setState(e.j.ID, StatusLost, e.attempts, "worker stopped during the attempt: "+err.Error())
	case e.attempts < q.cfg.MaxAttempts && q.cfg.Retryable(err):
		q.stats.Retries++
		q.stats.Retrying++
		st = q.setState(e.j.ID, StatusRetrying, e.attempts, err.Error())
		q.retryLater(e, q.backoff(e.attempts))
	default:
		q.stats.Failed++
		st = q.setState(e.j.ID, StatusFailed, e.attempts, err.Error())
		q.cfg.Logger.Warn("job failed for good", "job", e.j.ID, "attempts", e.attempts, "err", err)
	}
	q.mu.Unlock()
	q.notify(st)
}

// retryLater puts e back at the end of the queue after d. Called with mu held.
func (q *Queue) retryLater(e entry, d time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		delete(q.timers, t)
		q.stats.Retrying--
		if q.stopped {
			q.mu.Unlock()
			return
		}
		q.items = append(q.items, e)
		q.mu.Unlock()
		q.signal()
	})
	q.timers[t] = struct{}{}
}

// backoff is the shared retry schedule (internal/backoff) over
// Backoff..MaxBackoff.
func (q *Queue) backoff(attempts int) time.Duration {
	return backoff.Policy{Base: q.cfg.Backoff, Max: q.cfg.MaxBackoff}.Delay(attempts)
}

// stop drops everything still held and says how much that was.
func (q *Queue) stop() {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.stopped = true
	for t := range q.timers {
		t.Stop()
	}
	dropped := len(q.items) + len(q.timers)
	q.items = nil
	q.timers = nil
	q.mu.Unlock()
	if dropped > 0 {
		q.cfg.Logger.Warn("stopping with jobs in memory: they are lost", "jobs", dropped)
	}
}

// Stats returns the counters now.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Queued = len(q.items)
	return s
}

// State returns what the queue knows about a job it held recently.
func (q *Queue) State(id string) (State, bool) {
	return q.track.Get(id)
}
