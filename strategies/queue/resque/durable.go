package resque

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/replwait"
)

// A durable enqueue is internal/replwait's write-then-WAIT: the MULTI of
// Enqueue becomes one Lua script (atomic, as the MULTI is, and WAIT may
// not sit inside MULTI), sent with WAIT in one pipeline to the master that
// owns the job's shard.

// ErrNotReplicated is replwait's: the job is on the master (for now) but
// not acknowledged to the client.
var ErrNotReplicated = replwait.ErrNotReplicated

// SetDurability applies d to this client and all its shards.
func (c *Client) SetDurability(d replwait.Policy) {
	for _, s := range c.Shards() {
		s.durable = d
	}
	c.durable = d
}

// enqueueScript is Enqueue's MULTI as a script, so that WAIT can follow it
// on the same connection. KEYS[1] queue, KEYS[2] queues set, KEYS[3] job
// hash; ARGV[1] queue name, ARGV[2] payload, ARGV[3] now ms, ARGV[4] TTL s.
const enqueueScript = `
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], 'status', 'queued', 'updated', ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
`

// enqueueAtScript is EnqueueAt's MULTI as a script. KEYS[1] delayed:<ts>,
// KEYS[2] timestamps:<payload>, KEYS[3] schedule, KEYS[4] job hash;
// ARGV[1] payload, ARGV[2] ts, ARGV[3] now ms, ARGV[4] TTL s, ARGV[5] run_at ms.
const enqueueAtScript = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], 'delayed:' .. ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[2])
redis.call('HSET', KEYS[4], 'status', 'scheduled', 'updated', ARGV[3], 'run_at', ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return 1
`

var (
	enqueueLua   = redis.NewScript(enqueueScript)
	enqueueAtLua = redis.NewScript(enqueueAtScript)
)

func (c *Client) enqueueDurable(ctx context.Context, queue, id, raw string) error {
	keys := []string{c.keys.Queue(queue), c.keys.Queues(), c.keys.Job(id)}
	return c.waitFor(ctx, enqueueLua, keys, queue, raw, nowMS(), int(c.jobTTL.Seconds()))
}

func (c *Client) enqueueAtDurable(ctx context.Context, ts int64, id, raw string) error {
	keys := []string{c.keys.Delayed(ts), c.keys.Timestamps(raw), c.keys.Schedule(), c.keys.Job(id)}
	return c.waitFor(ctx, enqueueAtLua, keys, raw, ts, nowMS(), int(c.jobTTL.Seconds()), ts*1000)
}

// waitFor runs script and then WAIT on the master of keys[0], and fails
// unless enough replicas acknowledged.
func (c *Client) waitFor(ctx context.Context, script *redis.Script, keys []string, args ...any) error {
	run := func(load bool) error {
		return replwait.Write(ctx, c.rdb, keys[0], c.durable, func(p redis.Pipeliner) {
			if load {
				script.Eval(ctx, p, keys, args...)
			} else {
				script.EvalSha(ctx, p, keys, args...)
			}
		})
	}
	err := run(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = run(true) // first use on this node: send the body once
	}
	return err
}
