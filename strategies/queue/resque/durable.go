package resque

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replication is asynchronous: a master answers a write before any
// replica has it, so a failover right after a 202 can lose the job even
// with appendfsync always (that survives a restart of the same node, not
// its replacement). WAIT numreplicas timeout blocks the caller until that
// many replicas acknowledged every write made on the same connection, and
// that is what Durable buys: a 202 only once a replica holds the job.
//
// WAIT must follow the write on the same connection, and not inside
// MULTI (there it returns at once). So a durable enqueue is one Lua script
// (atomic, as the MULTI is) and WAIT in one pipeline on one connection. In
// a cluster that pipeline goes to the client of the master that owns the
// job's slot: a cluster client would send the keyless WAIT to any master,
// where it would wait for nothing.

// ErrNotReplicated is returned when WAIT timed out before a replica
// acknowledged the write: the job is on the master (for now) but not
// acknowledged to the client.
var ErrNotReplicated = errors.New("not confirmed by a replica in time")

// Durability is what Enqueue waits for before it reports success.
type Durability struct {
	Replicas int           // replicas that must hold the write (0: none, the default)
	Timeout  time.Duration // WAIT's timeout [1s]
}

// SetDurability applies d to this client and all its shards.
func (c *Client) SetDurability(d Durability) {
	if d.Timeout <= 0 {
		d.Timeout = time.Second
	}
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

// waitFor runs script and then WAIT in one pipeline, and fails unless
// enough replicas acknowledged.
func (c *Client) waitFor(ctx context.Context, script *redis.Script, keys []string, args ...any) error {
	d := c.durable
	var node redis.Cmdable = c.rdb
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return fmt.Errorf("find the master of %s: %w", keys[0], err)
		}
		node = m
	}
	run := func(load bool) (*redis.Cmd, error) {
		p := node.Pipeline()
		if load {
			script.Eval(ctx, p, keys, args...)
		} else {
			script.EvalSha(ctx, p, keys, args...)
		}
		w := p.Do(ctx, "WAIT", d.Replicas, d.Timeout.Milliseconds())
		_, err := p.Exec(ctx)
		return w, err
	}
	w, err := run(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		w, err = run(true) // first use on this node: send the body once
	}
	if err != nil {
		return err
	}
	n, err := w.Int()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if n < d.Replicas {
		return fmt.Errorf("%d of %d replicas after %v: %w", n, d.Replicas, d.Timeout, ErrNotReplicated)
	}
	return nil
}
