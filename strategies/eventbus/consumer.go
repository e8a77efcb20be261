package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ConsumerConfig configures one consumer in one group. Zero values take the
// defaults named on each field.
type ConsumerConfig struct {
	Group    string // the consumer group: one per handler; required
	Consumer string // this consumer's name in the group; default host-pid
	// Partitions is how many streams the web side writes; default 1.
	Partitions int
	// ClaimIdle is how long an entry may stay pending (delivered, not
	// acknowledged) before another consumer takes it over: it must exceed
	// the slowest handler run, or live work is delivered twice. It is also
	// the retry delay after a handler error. Default 30s.
	ClaimIdle time.Duration
	// MaxDeliveries: an entry delivered this many times without success
	// goes to the dead-letter stream. Default 5.
	MaxDeliveries int
	// Concurrency is how many events the consumer handles at once;
	// default 8. Ordered handlers always use 1.
	Concurrency int
	// Block is how long one XREADGROUP waits for new events; default 2s.
	Block time.Duration
	// Start is where a group that does not exist yet begins: "0" (all
	// retained history, the default) or "$" (only events from now on).
	Start string
	// Retain and RetainCount enable trimming (see Trim); 0 keeps all.
	Retain      time.Duration
	RetainCount int64
	// TrimEvery is how often this consumer trims; default 5s.
	TrimEvery time.Duration
	Logger    *slog.Logger
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	c.Partitions = max(c.Partitions, 1)
	c.ClaimIdle = cmpOr(c.ClaimIdle, 30*time.Second)
	c.MaxDeliveries = cmpOr(c.MaxDeliveries, 5)
	c.Concurrency = cmpOr(c.Concurrency, 8)
	c.Block = cmpOr(c.Block, 2*time.Second)
	c.Start = cmpOr(c.Start, "0")
	c.TrimEvery = cmpOr(c.TrimEvery, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (c ConsumerConfig) validate() error {
	switch {
	case c.Group == "":
		return errors.New("group: required")
	case c.ClaimIdle < 0:
		return fmt.Errorf("claim-idle %v: must be positive", c.ClaimIdle)
	case c.MaxDeliveries < 1:
		return fmt.Errorf("max-deliveries %d: must be at least 1", c.MaxDeliveries)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency)
	case c.Retain < 0 || c.RetainCount < 0:
		return errors.New("retain and retain-count must not be negative")
	case c.Start != "0" && c.Start != "$":
		return fmt.Errorf("group-start %q: use 0 or $", c.Start)
	}
	return nil
}

// Consumer reads one group's events from every partition, runs the
// handler, and acknowledges each entry only after the handler succeeded.
type Consumer struct {
	rdb     *redis.Client
	keys    Keys
	cfg     ConsumerConfig
	handler Handler
	ordered bool
	log     *slog.Logger

	// Counters for logs and tests; read them with Counts.
	handled, failed, claimed, dead, ackFailed atomic.Int64
	lastErrLog                                atomic.Int64
}

// Counts is what a consumer has done so far.
type Counts struct{ Acked, Failed, Claimed, DeadLettered, AckFailed int64 }

// NewConsumer builds a consumer; ordered handlers (audit) run one event at
// a time so their record keeps the stream's order.
func NewConsumer(rdb *redis.Client, cfg ConsumerConfig, h Handler, ordered bool) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("eventbus consumer: %w", err)
	}
	if ordered {
		cfg.Concurrency = 1
	}
	return &Consumer{rdb: rdb, keys: Keys{Partitions: cfg.Partitions}, cfg: cfg, handler: h, ordered: ordered,
		log: cfg.Logger.With("group", cfg.Group, "consumer", cfg.Consumer)}, nil
}

// Counts reports the consumer's counters.
func (c *Consumer) Counts() Counts {
	return Counts{c.handled.Load(), c.failed.Load(), c.claimed.Load(), c.dead.Load(), c.ackFailed.Load()}
}

// drainTimeout bounds how long events already read are still handled
// after Run's context ends; what is left stays pending for another
// consumer to claim.
const drainTimeout = 10 * time.Second

// Run consumes until ctx ends, then finishes the events it already holds.
func (c *Consumer) Run(ctx context.Context) error {
	if err := c.ensureGroups(ctx); err != nil {
		return err
	}
	c.log.Info("consuming", "streams", c.keys.Streams(), "claim_idle", c.cfg.ClaimIdle, "max_deliveries", c.cfg.MaxDeliveries, "concurrency", c.cfg.Concurrency)
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	work := make(chan Event)
	var handlers sync.WaitGroup
	for range c.cfg.Concurrency {
		handlers.Go(func() {
			for ev := range work {
				c.process(hctx, ev)
			}
		})
	}
	var loops sync.WaitGroup
	loops.Go(func() { c.reclaimLoop(ctx, work) })
	if c.cfg.Retain > 0 || c.cfg.RetainCount > 0 {
		loops.Go(func() { c.trimLoop(ctx) })
	}
	c.readLoop(ctx, work)
	loops.Wait()
	close(work)
	done := make(chan struct{})
	go func() { handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		hcancel()
		<-done
	}
	n := c.Counts()
	c.log.Info("stopped", "acked", n.Acked, "failed", n.Failed, "claimed", n.Claimed, "dead_lettered", n.DeadLettered)
	return nil
}

// ensureGroups creates the group on every partition (and the stream, so a
// consumer may start before the first event). An existing group keeps its
// cursor: that is what lets a consumer continue where the group left off.
func (c *Consumer) ensureGroups(ctx context.Context) error {
	for _, s := range c.keys.Streams() {
		err := c.rdb.XGroupCreateMkStream(ctx, s, c.cfg.Group, c.cfg.Start).Err()
		if err != nil && !isBusyGroup(err) {
			return fmt.Errorf("create group %s on %s: %w", c.cfg.Group, s, err)
		}
	}
	return nil
}

func (c *Consumer) readLoop(ctx context.Context, work chan<- Event) {
	streams := c.keys.Streams()
	args := append(append([]string{}, streams...), make([]string, len(streams))...)
	for i := range streams {
		args[len(streams)+i] = ">" // only entries never delivered to this group
	}
	failures := 0
	for ctx.Err() == nil {
		res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: c.cfg.Group, Consumer: c.cfg.Consumer, Streams: args,
			Count: int64(c.cfg.Concurrency), Block: c.cfg.Block,
		}).Result()
		switch {
		case isNil(err):
			failures = 0
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if isNoGroup(err) { // Redis lost its data (no persistence), or someone deleted the group
				_ = c.ensureGroups(ctx)
			}
			failures++
			c.logErr("read events", err)
			pause(ctx, backoff(failures))
			continue
		}
		failures = 0
		for _, s := range res {
			for _, m := range s.Messages {
				work <- decodeEvent(s.Stream, m, false)
			}
		}
	}
}

// process runs the handler and acknowledges only on success. A failed
// entry stays pending: reclaim retries it after ClaimIdle and dead-letters
// it after MaxDeliveries.
func (c *Consumer) process(ctx context.Context, ev Event) {
	if err := c.handler.Handle(ctx, ev); err != nil {
		c.failed.Add(1)
		c.log.Warn("handler failed; the event stays pending", "event", ev.ID, "job", ev.JobID, "err", err)
		if herr := c.rdb.HSet(ctx, Errors(c.cfg.Group), ev.ID, err.Error()).Err(); herr != nil {
			c.logErr("record handler error", herr)
		}
		return
	}
	if !c.ack(ctx, ev) {
		return
	}
	if ev.Retry {
		_ = c.rdb.HDel(ctx, Errors(c.cfg.Group), ev.ID).Err()
	}
}

// ack retries XACK for a while: after the handler succeeded, a lost ack
// means the event is delivered again (a duplicate mail) once it is claimed.
func (c *Consumer) ack(ctx context.Context, ev Event) bool {
	for attempt := 1; ; attempt++ {
		err := c.rdb.XAck(ctx, ev.Stream, c.cfg.Group, ev.ID).Err()
		if err == nil {
			c.handled.Add(1)
			return true
		}
		if attempt >= 30 || ctx.Err() != nil {
			c.ackFailed.Add(1)
			c.log.Error("ack failed: the event will be delivered again after claim-idle", "event", ev.ID, "job", ev.JobID, "err", err)
			return false
		}
		pause(ctx, backoff(attempt))
	}
}

// logErr logs at most one Redis error a second, so an outage is a few lines.
func (c *Consumer) logErr(what string, err error) {
	now := time.Now().UnixNano()
	last := c.lastErrLog.Load()
	if now-last < int64(time.Second) || !c.lastErrLog.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn(what, "err", err)
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 5)
	return min(d, time.Second)
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
