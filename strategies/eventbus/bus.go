package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/redisconn"
	"github.com/offload/offload/internal/replwait"
	"github.com/offload/offload/strategies"
)

// Bus is the web side: it appends each job as an event. Build it with New.
type Bus struct {
	rdb     redis.UniversalClient
	keys    Keys
	durable replwait.Policy
	log     *slog.Logger
	url     string
}

var (
	_ strategies.Strategy = (*Bus)(nil)
	_ strategies.Tracker  = (*Bus)(nil)
)

// Event field names in a stream entry.
const (
	fieldID  = "id"  // the job id, readable without decoding the job
	fieldJob = "job" // the job as the API's JSON
)

// Options are the web side's own flags.
type Options struct {
	Partitions int // streams events are spread over [1]; the consumers' must match
}

// registerPartitions is the one --partitions flag, shared by the web side
// and the consumers so that both see the same streams.
func registerPartitions(fs *flag.FlagSet, n *int) {
	fs.IntVar(n, "partitions", 1, "eventbus: number of stream partitions (web and consumers must agree)")
}

// WebFlags registers the web side's flags on fs and returns its
// constructor: the catalog entry's WebFlags func.
func WebFlags(fs *flag.FlagSet) func(strategies.Config) (strategies.Strategy, error) {
	var o Options
	registerPartitions(fs, &o.Partitions)
	return func(cfg strategies.Config) (strategies.Strategy, error) {
		if o.Partitions < 1 {
			return nil, fmt.Errorf("eventbus: --partitions %d: must be at least 1", o.Partitions)
		}
		return NewWith(cfg, o)
	}
}

// New is NewWith the default options.
func New(cfg strategies.Config) (strategies.Strategy, error) { return NewWith(cfg, Options{}) }

// NewWith connects to cfg.RedisURL and pings it, so a wrong or unreachable
// Redis is one clear error at start instead of a 503 on every request.
func NewWith(cfg strategies.Config, o Options) (strategies.Strategy, error) {
	durable, err := replwait.FromFlag(cfg.Durable)
	if err != nil {
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	rdb, err := Connect(context.Background(), cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{rdb: rdb, keys: Keys{Partitions: o.Partitions}, durable: durable, log: log, url: cfg.RedisURL}
	ctx, cancel := context.WithTimeout(context.Background(), redisconn.PingTimeout)
	prev, err := RecordPartitions(ctx, rdb, b.keys.partitions())
	cancel()
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	if prev != 0 && prev != b.keys.partitions() {
		// Events already written to the old layout's streams are read only
		// by consumers still started with the old count.
		log.Warn("eventbus partition count changed", "was", prev, "now", b.keys.partitions())
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(NewCollector(rdb, b.keys)); err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("eventbus: register metrics: %w", err)
		}
	}
	return b, nil
}

// Connect opens a client for url with the shared connection policy
// (internal/redisconn) and pings it.
func Connect(ctx context.Context, url string) (redis.UniversalClient, error) {
	if url == "" {
		return nil, errors.New("eventbus needs Redis: give --redis redis://host:port/db (or REDIS_URL)")
	}
	rdb, err := redisconn.Open(ctx, redisconn.Options{URL: url})
	if err != nil {
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	return rdb, nil
}

func (b *Bus) Name() string { return "eventbus" }

// Submit appends the event on the I/O path and answers 202 with the
// event's position only once Redis has stored it (with --durable wait: once
// a replica of the partition's master has it too).
func (b *Bus) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	var pos Position
	eventloop.Charge(rt, eventloop.CostRedisCommand*publishCommands)
	rt.IO(func() error {
		// Bounded as the queue's enqueue is: a request held by a
		// partition whose master is away must still get its 503.
		ctx, cancel := context.WithTimeout(context.Background(), submitTimeout)
		defer cancel()
		var err error
		pos, err = PublishDurable(ctx, b.rdb, b.keys, b.durable, j)
		return err
	}, func(err error) {
		if err != nil {
			b.log.Warn("event not stored", "job", j.ID, "err", err)
			reply(strategies.Outcome{Err: fmt.Errorf("%w: event bus: %v", strategies.ErrUnavailable, err)})
			return
		}
		reply(strategies.Outcome{Status: strategies.StatusAccepted, Extra: map[string]any{"stream": pos.Stream, "event": pos.Event}})
	})
}

// publishCommands is how many Redis commands one PublishDurable issues
// (XADD, then the job index's HSET and EXPIRE), each charged to the loop as
// ioredis would cost it; --durable wait's WAIT is not counted.
const publishCommands = 3

// submitTimeout bounds one Submit's Redis work (XADD, WAIT, the index).
const submitTimeout = 2 * time.Second

// Position is where an event sits in the log.
type Position struct {
	Stream string // the partition's stream key
	Event  string // the entry id Redis assigned, "ms-seq"
}

// Publish XADDs j to its partition and then records the job id -> position
// index. The index is a second round trip, not a Lua script: the event is
// the truth, the index only serves GET /jobs/{id}. If the index write
// fails the event is still stored and Publish still succeeds.
func Publish(ctx context.Context, rdb redis.UniversalClient, keys Keys, j job.Job) (Position, error) {
	return PublishDurable(ctx, rdb, keys, replwait.Policy{}, j)
}

// PublishDurable is Publish that, with a policy that waits, succeeds only
// once that many replicas of the partition's master hold the XADD: the
// XADD and WAIT go in one pipeline on that master's connection
// (internal/replwait). A refused one (replwait.ErrNotReplicated) may still
// be on the master and delivered; a client that retries it gets a second
// event, never a lost one it was told was stored.
func PublishDurable(ctx context.Context, rdb redis.UniversalClient, keys Keys, durable replwait.Policy, j job.Job) (Position, error) {
	payload, err := json.Marshal(j)
	if err != nil {
		return Position{}, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	stream := keys.StreamFor(j.ID)
	add := &redis.XAddArgs{Stream: stream, Values: []any{fieldID, j.ID, fieldJob, payload}}
	var id string
	if durable.On() {
		var cmd *redis.StringCmd // filled by the pipeline's Exec, if it ran
		err = replwait.Write(ctx, rdb, stream, durable, func(p redis.Pipeliner) { cmd = p.XAdd(ctx, add) })
		if err == nil {
			id = cmd.Val()
		}
	} else {
		id, err = rdb.XAdd(ctx, add).Result()
	}
	if err != nil {
		return Position{}, fmt.Errorf("xadd %s: %w", stream, err)
	}
	pos := Position{Stream: stream, Event: id}
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, keys.Job(j.ID), "stream", stream, "event", id)
	pipe.Expire(ctx, keys.Job(j.ID), IndexTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		slog.Warn("eventbus: job index not written; GET /jobs/{id} will not find it", "job", j.ID, "err", err)
	}
	return pos, nil
}

// Close closes the Redis client. Safe twice.
func (b *Bus) Close(context.Context) error {
	if err := b.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("eventbus: close redis: %w", err)
	}
	return nil
}
