package eventbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/redisconn"
)

// StreamStats is one partition's state, for `offload eventbus stats` and
// /metrics.
type StreamStats struct {
	Stream string `json:"stream"`
	// Node is the master that holds the partition (host:port).
	Node    string       `json:"node"`
	Length  int64        `json:"length"`
	FirstID string       `json:"first_id,omitempty"`
	LastID  string       `json:"last_id,omitempty"`
	Groups  []GroupStats `json:"groups"`
	// Error is why the partition could not be read ("" when it was).
	Error string `json:"error,omitempty"`
}

// GroupStats is one consumer group (one handler) on one stream.
type GroupStats struct {
	Name          string `json:"name"`
	Consumers     int64  `json:"consumers"`
	LastDelivered string `json:"last_delivered"`
	// Lag: entries not yet delivered to the group.
	Lag int64 `json:"lag"`
	// Pending: delivered, not yet acknowledged.
	Pending int64 `json:"pending"`
	// OldestPendingIdle: how long the lowest pending entry has waited
	// since its last delivery; a dead consumer shows up here first.
	OldestPendingIdle time.Duration `json:"oldest_pending_idle_ns"`
	DeadLetters       int64         `json:"dead_letters"`
}

// lagScanLimit caps the fallback count when Redis cannot say the lag
// (after a replay to an arbitrary id): the answer is then "at least".
const lagScanLimit = 10000

// Stats reads every partition's state. A stream that does not exist yet
// reports length 0 and no groups. A partition that cannot be read (its
// master is down, mid-failover) does not hide the others: it is listed
// with Error set, and the returned error joins every such failure.
func Stats(ctx context.Context, rdb redis.UniversalClient, keys Keys) ([]StreamStats, error) {
	var out []StreamStats
	var errs []error
	for _, s := range keys.Streams() {
		st, err := streamStats(ctx, rdb, s)
		if err != nil {
			st = StreamStats{Stream: s, Node: st.Node, Groups: []GroupStats{}, Error: err.Error()}
			errs = append(errs, err)
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

func streamStats(ctx context.Context, rdb redis.UniversalClient, stream string) (StreamStats, error) {
	st := StreamStats{Stream: stream, Groups: []GroupStats{}}
	node, err := redisconn.MasterAddr(ctx, rdb, stream)
	if err != nil {
		return st, err
	}
	st.Node = node
	n, err := rdb.XLen(ctx, stream).Result()
	if err != nil {
		return st, fmt.Errorf("xlen %s: %w", stream, err)
	}
	st.Length = n
	if n > 0 {
		if first, err := rdb.XRangeN(ctx, stream, "-", "+", 1).Result(); err == nil && len(first) > 0 {
			st.FirstID = first[0].ID
		}
		if last, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result(); err == nil && len(last) > 0 {
			st.LastID = last[0].ID
		}
	}
	// An empty stream may still have groups on it (MKSTREAM).
	groups, err := rdb.XInfoGroups(ctx, stream).Result()
	if err != nil {
		if isNoSuchKey(err) {
			return st, nil
		}
		return st, fmt.Errorf("xinfo groups %s: %w", stream, err)
	}
	for _, g := range groups {
		gs, err := groupStats(ctx, rdb, stream, g)
		if err != nil {
			return st, err
		}
		st.Groups = append(st.Groups, gs)
	}
	return st, nil
}

func groupStats(ctx context.Context, rdb redis.UniversalClient, stream string, g redis.XInfoGroup) (GroupStats, error) {
	gs := GroupStats{Name: g.Name, Consumers: g.Consumers, LastDelivered: g.LastDeliveredID, Lag: g.Lag, Pending: g.Pending}
	if gs.Lag < 0 {
		rest, err := rdb.XRangeN(ctx, stream, "("+g.LastDeliveredID, "+", lagScanLimit).Result()
		if err != nil {
			return gs, fmt.Errorf("count undelivered on %s: %w", stream, err)
		}
		gs.Lag = int64(len(rest))
	}
	if g.Pending > 0 {
		oldest, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: g.Name, Start: "-", End: "+", Count: 1}).Result()
		if err != nil {
			return gs, fmt.Errorf("xpending %s %s: %w", stream, g.Name, err)
		}
		if len(oldest) > 0 {
			gs.OldestPendingIdle = oldest[0].Idle
		}
	}
	dead, err := rdb.XLen(ctx, DeadLetters(g.Name)).Result()
	if err != nil {
		return gs, fmt.Errorf("xlen %s: %w", DeadLetters(g.Name), err)
	}
	gs.DeadLetters = dead
	return gs, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

func isBusyGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP")
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }
