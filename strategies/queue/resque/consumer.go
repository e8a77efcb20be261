package resque

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/offload/offload/internal/backoff"
	"github.com/offload/offload/internal/workerid"
)

// Handler performs one job. A nil error acknowledges it; an error retries
// it with backoff, unless it is Permanent or the retries are used up, in
// which case the job goes to resque:failed.
type Handler func(ctx context.Context, j Job) error

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// Permanent marks err as not worth retrying (a malformed job, an unknown
// class).
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { var p permanentError; return errors.As(err, &p) }

// ConsumerConfig configures a Consumer. Zero values take the defaults in
// brackets.
type ConsumerConfig struct {
	Queue   string // the queue to work ["email"]
	Worker  Worker // Name [host:pid], Queues [Queue], PingTTL [15s]
	Handler Handler
	// Size is the initial number of processors (jobs run at once) [1].
	Size int
	// Prefetch is how many jobs may be claimed beyond the free processors,
	// so a processor that finishes finds its next job in memory. They sit in
	// the inflight list like running ones, so they are never lost [Size].
	Prefetch int
	Batch    int // most jobs per claim round trip [100]
	// Retries after the first failed attempt; then the job goes to failed [5].
	Retries int
	// Backoff is the wait before retry number n (1-based) [1s·2^(n-1), ±25% jitter, at most 5m].
	Backoff func(n int) time.Duration
	// MaxDeliveries: a job reclaimed from dead workers this many times is
	// poison and goes to failed [5].
	MaxDeliveries int
	// IdleWait is how long one blocking claim waits on an empty queue [1s].
	IdleWait time.Duration
	// StopTimeout bounds how long a stop waits for running jobs before it
	// puts them back on the queue [10s].
	StopTimeout time.Duration
	Log         *slog.Logger
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.Queue == "" {
		c.Queue = "email"
	}
	if c.Worker.Name == "" {
		c.Worker.Name = DefaultWorkerName()
	}
	if c.Worker.Queues == "" {
		c.Worker.Queues = c.Queue
	}
	if c.Worker.PingTTL <= 0 {
		c.Worker.PingTTL = 15 * time.Second
	}
	c.Size = max(c.Size, 1)
	if c.Prefetch <= 0 {
		c.Prefetch = c.Size
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	if c.Backoff == nil {
		c.Backoff = ExpBackoff(time.Second, 5*time.Minute)
	}
	if c.MaxDeliveries <= 0 {
		c.MaxDeliveries = 5
	}
	if c.IdleWait < time.Second {
		c.IdleWait = time.Second // BLMOVE's resolution on the wire is whole seconds
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// ExpBackoff is the shared retry schedule (internal/backoff): doubling
// from base up to limit, half of each wait random, so jobs that failed
// together do not all come back in the same second.
func ExpBackoff(base, limit time.Duration) func(int) time.Duration {
	return backoff.Policy{Base: base, Max: limit}.Delay
}

// DefaultWorkerName is host:pid, node-resque's form (internal/workerid).
func DefaultWorkerName() string { return workerid.Name() }

// Counters are a Consumer's running totals, read with Load.
type Counters struct {
	Processed, Failed, Retried, Redelivered, LateAcks, Reclaimed atomic.Int64
}

// Consumer claims jobs in batches, runs them on a resizable set of
// processors, and acknowledges them in batches; it pings, and reclaims the
// jobs of dead workers. Build with NewConsumer, run with Run.
type Consumer struct {
	c   *Client
	cfg ConsumerConfig

	ready  chan Job      // claimed, waiting for a processor
	done   chan result   // finished, waiting for ack
	freed  chan struct{} // a held job finished: the fetcher may claim
	shrink chan struct{} // one token retires one processor
	held   atomic.Int64  // claimed and not yet finished
	owned  ownedSet      // payloads in our inflight list, as far as we know (orphans.go)
	// suspect is set when a Redis call's outcome is unknown; the fetcher
	// then checks the inflight list for orphans before its next claim.
	suspect atomic.Bool
	next    int            // the shard the next claim starts at (fetch only)
	busy    atomic.Int64   // running in a handler now
	size    atomic.Int64   // processors wanted
	procs   sync.WaitGroup // running processors
	mu      sync.Mutex     // SetSize
	// jobCtx is what handlers see; cancelled only when a stop times out.
	jobCtx    context.Context
	cancelJob context.CancelFunc

	Counters Counters
}

type result struct {
	job Job
	err error
}

// MaxProcessors bounds SetSize.
const MaxProcessors = 4096

// NewConsumer builds a consumer; nothing runs until Run.
func NewConsumer(c *Client, cfg ConsumerConfig) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if cfg.Handler == nil {
		return nil, errors.New("consumer: Handler is required")
	}
	if cfg.Size > MaxProcessors {
		return nil, fmt.Errorf("consumer: Size %d: at most %d", cfg.Size, MaxProcessors)
	}
	jctx, cancel := context.WithCancel(context.Background())
	k := &Consumer{c: c, cfg: cfg,
		ready: make(chan Job, MaxProcessors), done: make(chan result, MaxProcessors),
		freed: make(chan struct{}, 1), shrink: make(chan struct{}, MaxProcessors),
		jobCtx: jctx, cancelJob: cancel}
	return k, nil
}

// Worker is the identity this consumer claims under.
func (k *Consumer) Worker() Worker { return k.cfg.Worker }

// Size is the number of processors wanted; Busy how many run a job now.
func (k *Consumer) Size() int { return int(k.size.Load()) }
func (k *Consumer) Busy() int { return int(k.busy.Load()) }

// Held is how many jobs this consumer has claimed and not finished.
func (k *Consumer) Held() int { return int(k.held.Load()) }
