package eventbus

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/backoff"
)

// errNotOwned means another consumer took the entry over (or it was
// acknowledged or dead-lettered) while this one was retrying it: stop
// without recording an error, the entry is someone else's now.
var errNotOwned = errors.New("entry no longer pending for this consumer")

// handle runs the handler and retries a temporary failure (an SMTP 4xx, a
// network error: Retryable) in-process, up to MaxAttempts attempts with
// exponential backoff and jitter, so a short outage of the mail server
// costs one backoff after it ends rather than a claim-idle per event.
//
// The entry is never acknowledged while it is retried: it stays in the
// group's pending list, so a consumer that dies mid-retry loses nothing
// (XAUTOCLAIM hands it to another). Because the pending entry's idle time
// is also the claim clock, keep resets it after each failed attempt and
// after each wait; otherwise a retry longer than --claim-idle would be
// claimed and run a second time next to this one. The event holds its
// handler slot while it waits: the consumer's concurrency bound counts
// events in hand, retrying or not, and no new event is read for that slot
// (see slots), so a retry never makes another event wait in memory.
//
// A permanent error, the last attempt, or a stopping consumer (stop ends)
// returns the error: the entry takes today's path (left pending, claimed
// after --claim-idle, dead-lettered after --max-deliveries).
func (c *Consumer) handle(ctx, stop context.Context, ev Event) error {
	for attempt := 1; ; attempt++ {
		err := c.handler.Handle(ctx, ev)
		if err == nil || attempt >= c.cfg.MaxAttempts || !c.cfg.Retryable(err) || stop.Err() != nil {
			return err
		}
		if !c.keep(ctx, ev) {
			return errNotOwned
		}
		wait := c.retryWait(attempt)
		c.retried.Add(1)
		c.log.Debug("temporary handler failure; retrying in-process", "event", ev.ID, "job", ev.JobID, "attempt", attempt, "wait", wait, "err", err)
		backoff.Sleep(stop, wait)
		if stop.Err() != nil {
			return err
		}
		if !c.keep(ctx, ev) {
			return errNotOwned
		}
	}
}

// keep resets ev's idle time if this consumer still owns it: XCLAIM to
// itself with JUSTID, which sets the idle time to 0 without counting a
// delivery. The XPENDING check first keeps it from taking back an entry
// another consumer already claimed. Any error says "not kept": the caller
// stops retrying and the entry is left to reclaim.
func (c *Consumer) keep(ctx context.Context, ev Event) bool {
	p, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: ev.Stream, Group: c.cfg.Group, Start: ev.ID, End: ev.ID, Count: 1, Consumer: c.cfg.Consumer,
	}).Result()
	if err != nil || len(p) == 0 {
		if err != nil {
			c.logErr("check a retried entry", err)
		}
		return false
	}
	ids, err := c.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: ev.Stream, Group: c.cfg.Group, Consumer: c.cfg.Consumer, Messages: []string{ev.ID},
	}).Result()
	if err != nil {
		c.logErr("refresh a retried entry", err)
	}
	return err == nil && len(ids) == 1
}

// retryWait is the shared retry schedule (internal/backoff) from Backoff,
// capped at maxRetryWait and at half of ClaimIdle so that keep always runs
// well before the entry could be claimed.
func (c *Consumer) retryWait(attempt int) time.Duration {
	return backoff.Policy{Base: c.cfg.Backoff, Max: min(maxRetryWait, c.cfg.ClaimIdle/2)}.Delay(attempt)
}

// maxRetryWait caps one in-process retry wait, as the memqueue worker's
// MaxBackoff does.
const maxRetryWait = 5 * time.Second

// slots are the consumer's handler slots: a token per event in hand. An
// event is read or claimed only once a slot is free to run it at once, so
// no event waits in memory, unhandled, while its claim clock runs (it
// would be claimed and run twice).
type slots chan struct{}

func newSlots(n int) slots {
	s := make(slots, n)
	for range n {
		s <- struct{}{}
	}
	return s
}

// take waits for one free slot, then takes up to limit-1 more that are free
// right now. It returns 0 when ctx ends first.
func (s slots) take(ctx context.Context, limit int) int {
	select {
	case <-ctx.Done():
		return 0
	case <-s:
	}
	n := 1
	for n < limit {
		select {
		case <-s:
			n++
		default:
			return n
		}
	}
	return n
}

// give returns n slots.
func (s slots) give(n int) {
	for range n {
		s <- struct{}{}
	}
}

// awaitSlot waits for a slot for an event read beyond the free ones,
// keeping the entry fresh meanwhile so that it is not claimed while it
// waits. It gives up (the entry stays pending for reclaim) when ctx ends
// or the entry is no longer this consumer's.
func (c *Consumer) awaitSlot(ctx context.Context, ev Event) bool {
	t := time.NewTicker(max(c.cfg.ClaimIdle/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.parts[ev.Partition].slots:
			return true
		case <-ctx.Done():
			return false
		case <-t.C:
			if !c.keep(ctx, ev) {
				return false
			}
		}
	}
}
