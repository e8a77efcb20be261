package eventbus

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// trimLoop applies the retention policy every TrimEvery.
func (c *Consumer) trimLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.TrimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range c.keys.Streams() {
			n, err := Trim(ctx, c.rdb, s, c.cfg.Retain, c.cfg.RetainCount, time.Now())
			if err != nil && ctx.Err() == nil {
				c.logErr("trim", err)
			}
			if n > 0 {
				c.log.Debug("trimmed", "stream", s, "entries", n)
			}
		}
	}
}

// Trim removes entries older than retain, or beyond the newest retainCount,
// but never an entry some group has not acknowledged: the cut is held back
// to the lowest of, over every group on the stream, its oldest pending entry
// and its cursor (last delivered id). Trimming is MINID, exact.
//
// What it cannot protect, precisely: (1) a group that does not exist yet —
// one created later at "0" starts at the oldest retained entry, not the
// first ever; (2) a replay (XGROUP SETID) to a position already trimmed;
// (3) with no group at all on the stream, Trim removes nothing.
// The web side never trims (XADD carries no MAXLEN), so the accept path
// does not need to know the groups. Returns the number of entries removed.
func Trim(ctx context.Context, rdb redis.UniversalClient, stream string, retain time.Duration, retainCount int64, now time.Time) (int64, error) {
	cut, ok, err := retentionCut(ctx, rdb, stream, retain, retainCount, now)
	if err != nil || !ok {
		return 0, err
	}
	safe, ok, err := acknowledgedBound(ctx, rdb, stream)
	if err != nil || !ok {
		return 0, err
	}
	if safe.less(cut) {
		cut = safe
	}
	n, err := rdb.XTrimMinID(ctx, stream, cut.String()).Result()
	if err != nil {
		return 0, fmt.Errorf("xtrim %s minid %s: %w", stream, cut, err)
	}
	return n, nil
}

// retentionCut is the lowest id the policy keeps; entries below it may go.
func retentionCut(ctx context.Context, rdb redis.UniversalClient, stream string, retain time.Duration, retainCount int64, now time.Time) (streamID, bool, error) {
	var cut streamID
	ok := false
	if retain > 0 {
		cut, ok = streamID{ms: uint64(max(now.Add(-retain).UnixMilli(), 0))}, true
	}
	if retainCount > 0 {
		newest, err := rdb.XRevRangeN(ctx, stream, "+", "-", retainCount).Result()
		if err != nil {
			return cut, false, fmt.Errorf("xrevrange %s: %w", stream, err)
		}
		if int64(len(newest)) == retainCount {
			oldestKept, err := parseID(newest[len(newest)-1].ID)
			if err != nil {
				return cut, false, err
			}
			// Both limits set: an entry goes when either says so.
			if !ok || cut.less(oldestKept) {
				cut = oldestKept
			}
			ok = true
		}
	}
	return cut, ok, nil
}

// acknowledgedBound is the lowest id some group still needs.
func acknowledgedBound(ctx context.Context, rdb redis.UniversalClient, stream string) (streamID, bool, error) {
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		if isNoSuchKey(err) {
			return streamID{}, false, nil
		}
		return streamID{}, false, fmt.Errorf("xinfo groups %s: %w", stream, err)
	}
	if len(groups) == 0 {
		return streamID{}, false, nil
	}
	var bound streamID
	for i, g := range groups {
		b, err := parseID(g.LastDeliveredID)
		if err != nil {
			return streamID{}, false, err
		}
		if g.Pending > 0 {
			sum, err := rdb.XPending(ctx, stream, g.Name).Result()
			if err != nil {
				return streamID{}, false, fmt.Errorf("xpending %s %s: %w", stream, g.Name, err)
			}
			if low, err := parseID(sum.Lower); err == nil && low.less(b) {
				b = low
			}
		}
		if i == 0 || b.less(bound) {
			bound = b
		}
	}
	return bound, true, nil
}
