package eventbus

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// reclaimLoop takes over entries left pending too long (a dead or hung
// consumer's, or ones whose handler failed) and dead-letters the ones that
// were delivered MaxDeliveries times. This replaces the talk's
// "handlers run before the offset is safe": the offset (the group's cursor)
// moves on delivery, but an entry is only done when acknowledged, and
// until then Redis keeps it in the group's pending list.
//
// Each tick also notes where the group would have to be re-created should
// its master lose it (observe), one partition per loop.
func (c *Consumer) reclaimLoop(ctx context.Context, p *partition, dispatch func(Event, bool)) {
	t := time.NewTicker(max(c.cfg.ClaimIdle/2, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.reclaim(ctx, p, dispatch); err != nil && ctx.Err() == nil {
			c.logErr("reclaim", err)
		}
		if err := c.observe(ctx, p); err != nil && ctx.Err() == nil {
			c.logErr("observe the group", err)
		}
	}
}

// reclaim runs one round on one partition. It claims only as many entries as
// it has free slots for, so that what it claims is handled at once, well
// before ClaimIdle runs out again (otherwise another consumer would claim
// it a second time).
func (c *Consumer) reclaim(ctx context.Context, p *partition, dispatch func(Event, bool)) error {
	stream := p.stream
	stale, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: stream, Group: c.cfg.Group, Idle: c.cfg.ClaimIdle, Start: "-", End: "+", Count: 100,
	}).Result()
	if err != nil {
		return fmt.Errorf("xpending %s: %w", stream, err)
	}
	for _, pe := range stale {
		if pe.RetryCount >= int64(c.cfg.MaxDeliveries) {
			if err := c.deadLetter(ctx, p, pe); err != nil {
				return err
			}
		}
	}
	if len(stale) == 0 {
		return nil // nothing idle long enough: do not wait for a slot
	}
	n := p.slots.take(ctx, cap(p.slots))
	if n == 0 {
		return nil
	}
	msgs, _, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: stream, Group: c.cfg.Group, Consumer: c.cfg.Consumer,
		MinIdle: c.cfg.ClaimIdle, Start: "0-0", Count: int64(n),
	}).Result()
	p.slots.give(n - len(msgs))
	if err != nil {
		return fmt.Errorf("xautoclaim %s: %w", stream, err)
	}
	for _, m := range msgs {
		c.claimed.Add(1)
		c.log.Info("claimed a pending event", "event", m.ID)
		dispatch(c.decode(p, m, true), true)
	}
	return nil
}

// deadLetter moves one entry to the group's dead-letter stream with the
// reason, then acknowledges it. The XCLAIM first makes one consumer the
// owner (it resets the idle time, so a second consumer's claim fails): two
// consumers never dead-letter the same entry. Written before the ack, so a
// crash in between leaves a duplicate dead letter, never a lost one.
func (c *Consumer) deadLetter(ctx context.Context, part *partition, p redis.XPendingExt) error {
	g, stream := c.cfg.Group, part.stream
	owned, err := c.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: stream, Group: g, Consumer: c.cfg.Consumer, MinIdle: c.cfg.ClaimIdle, Messages: []string{p.ID},
	}).Result()
	if err != nil || len(owned) == 0 {
		return err
	}
	reason, err := c.rdb.HGet(ctx, part.errors, p.ID).Result()
	if err != nil {
		if !isNil(err) {
			return fmt.Errorf("read last error of %s: %w", p.ID, err)
		}
		reason = "never acknowledged (the consumer died or hung on each delivery)"
	}
	reason = fmt.Sprintf("delivered %d times; last error: %s", p.RetryCount, reason)
	values := []any{"stream", stream, "event", p.ID, "group", g, "deliveries", p.RetryCount,
		"reason", reason, "failed_at", time.Now().UTC().Format(time.RFC3339Nano)}
	entry, err := c.rdb.XRangeN(ctx, stream, p.ID, p.ID, 1).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", p.ID, err)
	}
	var jobID string
	if len(entry) > 0 {
		jobID, _ = entry[0].Values[fieldID].(string)
		values = append(values, fieldID, jobID, fieldJob, entry[0].Values[fieldJob])
	}
	if err := c.rdb.XAdd(ctx, &redis.XAddArgs{Stream: DeadLetters(g), Values: values}).Err(); err != nil {
		return fmt.Errorf("dead-letter %s: %w", p.ID, err)
	}
	pipe := c.rdb.Pipeline()
	pipe.XAck(ctx, stream, g, p.ID)
	pipe.HDel(ctx, part.errors, p.ID)
	if jobID != "" && c.rdb.Exists(ctx, c.keys.Job(jobID)).Val() == 1 {
		pipe.HSet(ctx, c.keys.Job(jobID), "dead:"+g, reason)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ack dead letter %s: %w", p.ID, err)
	}
	c.dead.Add(1)
	c.log.Warn("event dead-lettered", "event", p.ID, "job", jobID, "reason", reason, "dead_letters", DeadLetters(g))
	return nil
}
