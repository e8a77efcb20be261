package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/backoff"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/workerid"
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
	// the retry delay after a permanent handler error, or after the
	// in-process retries of a temporary one ran out. Default 30s.
	ClaimIdle time.Duration
	// MaxDeliveries: an entry delivered this many times without success
	// goes to the dead-letter stream. Default 5.
	MaxDeliveries int
	// MaxAttempts is how many times one delivery runs the handler while
	// it fails with a temporary error (Retryable), waiting Backoff,
	// doubled each time with jitter, in between; default 5, 1 disables
	// the in-process retry. The entry stays pending meanwhile.
	MaxAttempts int
	Backoff     time.Duration // default 200ms
	// Retryable says which handler errors are worth an in-process retry;
	// default mailer.IsTemporary (an SMTP 4xx or a network error).
	Retryable func(error) bool
	// Concurrency is how many events the consumer handles at once;
	// default 8. It is shared over the partitions, at least one slot
	// each, so with more partitions than slots the bound is the number of
	// partitions. Ordered handlers always use 1 (per partition).
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
		c.Consumer = workerid.Name()
	}
	c.Partitions = max(c.Partitions, 1)
	c.ClaimIdle = cmpOr(c.ClaimIdle, 30*time.Second)
	c.MaxDeliveries = cmpOr(c.MaxDeliveries, 5)
	c.MaxAttempts = cmpOr(c.MaxAttempts, 5)
	c.Backoff = cmpOr(c.Backoff, 200*time.Millisecond)
	if c.Retryable == nil {
		c.Retryable = mailer.IsTemporary
	}
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
	case c.MaxAttempts < 1:
		return fmt.Errorf("max-attempts %d: must be at least 1", c.MaxAttempts)
	case c.Backoff < 0:
		return fmt.Errorf("backoff %v: must not be negative", c.Backoff)
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
	rdb     redis.UniversalClient
	keys    Keys
	cfg     ConsumerConfig
	handler Handler
	ordered bool
	log     *slog.Logger
	parts   []*partition

	// Counters for logs, /metrics and tests; read them with Counts.
	handled, failed, claimed, dead, ackFailed, retried atomic.Int64
	lastErrLog                                         atomic.Int64
}

// partition is one stream as this consumer works it. Each has its own
// reading loop, its own reclaim loop and its own share of the handler
// slots: XREADGROUP and XAUTOCLAIM name one stream, so each runs on the
// master that holds it, and a read blocked on a quiet partition holds only
// that partition's slots, never the ones a busy partition needs.
type partition struct {
	index          int
	stream, errors string
	slots          slots
	// resume is where the group is re-created if Redis says NOGROUP
	// (see observe); nil until first observed.
	resume atomic.Pointer[streamID]
}

// Counts is what a consumer has done so far. Retried counts in-process
// retries of temporary handler failures (attempts after the first).
type Counts struct{ Acked, Failed, Claimed, DeadLettered, AckFailed, Retried int64 }

// NewConsumer builds a consumer; ordered handlers (audit) run one event at
// a time per partition so their record keeps each stream's order.
func NewConsumer(rdb redis.UniversalClient, cfg ConsumerConfig, h Handler, ordered bool) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("eventbus consumer: %w", err)
	}
	if ordered {
		cfg.Concurrency = 1
	}
	keys := Keys{Partitions: cfg.Partitions}
	c := &Consumer{rdb: rdb, keys: keys, cfg: cfg, handler: h, ordered: ordered,
		log: cfg.Logger.With("group", cfg.Group, "consumer", cfg.Consumer)}
	for p, share := range splitSlots(cfg.Concurrency, cfg.Partitions) {
		c.parts = append(c.parts, &partition{index: p, stream: keys.Stream(p), errors: keys.Errors(cfg.Group, p), slots: newSlots(share)})
	}
	return c, nil
}

// splitSlots shares n handler slots over parts partitions as evenly as
// possible, at least one each: every partition always makes progress.
func splitSlots(n, parts int) []int {
	out := make([]int, parts)
	for p := range out {
		out[p] = max(1, n/parts)
		if p < n%parts && n > parts {
			out[p]++
		}
	}
	return out
}

// Counts reports the consumer's counters.
func (c *Consumer) Counts() Counts {
	return Counts{c.handled.Load(), c.failed.Load(), c.claimed.Load(), c.dead.Load(), c.ackFailed.Load(), c.retried.Load()}
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
	c.log.Info("consuming", "streams", c.keys.Streams(), "claim_idle", c.cfg.ClaimIdle, "max_deliveries", c.cfg.MaxDeliveries,
		"concurrency", c.cfg.Concurrency, "max_attempts", c.cfg.MaxAttempts, "backoff", c.cfg.Backoff)
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	// Each event runs on its own goroutine holding one slot of its
	// partition, taken by whoever read or claimed it (or by awaitSlot for
	// a read's extras); ctx ending stops in-process retries.
	var handlers sync.WaitGroup
	dispatch := func(ev Event, held bool) {
		handlers.Go(func() {
			if !held && !c.awaitSlot(ctx, ev) {
				return
			}
			defer c.parts[ev.Partition].slots.give(1)
			c.process(hctx, ctx, ev)
		})
	}
	var loops sync.WaitGroup
	for _, p := range c.parts {
		loops.Go(func() { c.reclaimLoop(ctx, p, dispatch) })
		loops.Go(func() { c.readLoop(ctx, p, dispatch) })
	}
	if c.cfg.Retain > 0 || c.cfg.RetainCount > 0 {
		loops.Go(func() { c.trimLoop(ctx) })
	}
	loops.Wait()
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
	for _, p := range c.parts {
		if err := c.createGroup(ctx, p, c.cfg.Start); err != nil {
			return err
		}
	}
	return nil
}

func (c *Consumer) createGroup(ctx context.Context, p *partition, start string) error {
	err := c.rdb.XGroupCreateMkStream(ctx, p.stream, c.cfg.Group, start).Err()
	if err != nil && !isBusyGroup(err) {
		return fmt.Errorf("create group %s on %s: %w", c.cfg.Group, p.stream, err)
	}
	return nil
}

// recreateGroup answers NOGROUP on a partition whose group existed: its
// master lost it (a Redis without persistence restarted empty, a failover
// to a replica that never had it, or someone deleted it). The group's
// pending list is gone with it, so it is created again just below the
// lowest entry it still needed when last observed: the entries delivered
// and not acknowledged since then are delivered again (duplicates, never
// a loss). Never observed: from the oldest retained entry.
func (c *Consumer) recreateGroup(ctx context.Context, p *partition) error {
	at := "0"
	if r := p.resume.Load(); r != nil {
		at = r.String()
	}
	if err := c.createGroup(ctx, p, at); err != nil {
		return err
	}
	c.log.Warn("consumer group was missing; re-created it, events after the position are delivered again", "stream", p.stream, "from", at)
	return nil
}

// observe records where recreateGroup would start: the lower of the
// group's cursor and the id just below its oldest pending entry.
func (c *Consumer) observe(ctx context.Context, p *partition) error {
	groups, err := c.rdb.XInfoGroups(ctx, p.stream).Result()
	if err != nil {
		return fmt.Errorf("xinfo groups %s: %w", p.stream, err)
	}
	for _, g := range groups {
		if g.Name != c.cfg.Group {
			continue
		}
		at, err := parseID(g.LastDeliveredID)
		if err != nil {
			return err
		}
		if g.Pending > 0 {
			sum, err := c.rdb.XPending(ctx, p.stream, g.Name).Result()
			if err != nil {
				return fmt.Errorf("xpending %s %s: %w", p.stream, g.Name, err)
			}
			if low, err := parseID(sum.Lower); err == nil && low.before().less(at) {
				at = low.before()
			}
		}
		p.resume.Store(&at)
	}
	return nil
}

// readLoop reads new events from one partition, only as many as it has
// free slots. It holds those slots while XREADGROUP blocks, so the block
// is kept under half of ClaimIdle: reclaim waits for a slot at most that
// long.
func (c *Consumer) readLoop(ctx context.Context, p *partition, dispatch func(Event, bool)) {
	args := []string{p.stream, ">"} // only entries never delivered to this group
	block := min(c.cfg.Block, max(c.cfg.ClaimIdle/2, 50*time.Millisecond))
	failures := 0
	for ctx.Err() == nil {
		n := p.slots.take(ctx, cap(p.slots))
		if n == 0 {
			return
		}
		res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: c.cfg.Group, Consumer: c.cfg.Consumer, Streams: args, Count: int64(n), Block: block,
		}).Result()
		for _, s := range res {
			for _, m := range s.Messages {
				dispatch(c.decode(p, m, false), n > 0)
				n--
			}
		}
		p.slots.give(max(n, 0))
		switch {
		case isNil(err):
			failures = 0
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if isNoGroup(err) {
				if gerr := c.recreateGroup(ctx, p); gerr != nil {
					c.logErr("recreate consumer group", gerr)
				}
			}
			failures++
			c.logErr("read events", err)
			backoff.Sleep(ctx, redisRetry.Delay(failures))
			continue
		}
		failures = 0
	}
}

func (c *Consumer) decode(p *partition, m redis.XMessage, retry bool) Event {
	ev := decodeEvent(p.stream, m, retry)
	ev.Partition = p.index
	return ev
}

// process runs the handler (retrying temporary failures in-process, see
// handle) and acknowledges only on success. A failed entry stays pending:
// reclaim retries it after ClaimIdle and dead-letters it after
// MaxDeliveries.
func (c *Consumer) process(ctx, stop context.Context, ev Event) {
	if err := c.handle(ctx, stop, ev); err != nil {
		if errors.Is(err, errNotOwned) {
			return
		}
		c.failed.Add(1)
		c.log.Warn("handler failed; the event stays pending", "event", ev.ID, "job", ev.JobID, "err", err)
		if herr := c.rdb.HSet(ctx, c.parts[ev.Partition].errors, ev.ID, err.Error()).Err(); herr != nil {
			c.logErr("record handler error", herr)
		}
		return
	}
	if !c.ack(ctx, ev) {
		return
	}
	if ev.Retry {
		// A stale entry would show a delivered event as failing in
		// `offload eventbus stats`.
		if err := c.rdb.HDel(ctx, c.parts[ev.Partition].errors, ev.ID).Err(); err != nil {
			c.logErr("clear the handler error of a delivered event", err)
		}
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
		backoff.Sleep(ctx, redisRetry.Delay(attempt))
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

// redisRetry spaces attempts against a Redis that is down or failing.
var redisRetry = backoff.Policy{Base: 50 * time.Millisecond, Max: time.Second}
