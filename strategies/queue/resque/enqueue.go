package resque

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Enqueue appends raw (a Payload's JSON) to its queue as node-resque's
// queue.enqueue does (SADD queues + RPUSH queue:<q>), and records the job's
// status, all in one MULTI: a job is either stored with its status or not at
// all, so an error here means "not stored" and a nil means it survives a
// web crash.
func (c *Client) Enqueue(ctx context.Context, queue, id, raw string) error {
	if c.durable.On() {
		if err := c.enqueueDurable(ctx, queue, id, raw); err != nil {
			return fmt.Errorf("enqueue %s: %w", id, err)
		}
		return nil
	}
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, c.keys.Queues(), queue)
		p.RPush(ctx, c.keys.Queue(queue), raw)
		c.setStatus(ctx, p, id, "queued", 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", id, err)
	}
	return nil
}

// EnqueueAt schedules raw to be moved to its queue at t, in the layout
// node-resque's queue.enqueueAt writes (second resolution; see delaySecond):
// delayed:<unixSec> list, timestamps:<payload> set, delayed_queue_schedule
// zset with score = member = unixSec. Either side's scheduler moves it.
func (c *Client) EnqueueAt(ctx context.Context, t time.Time, id, raw string) error {
	ts := delaySecond(t)
	if c.durable.On() {
		if err := c.enqueueAtDurable(ctx, ts, id, raw); err != nil {
			return fmt.Errorf("enqueue %s at %s: %w", id, t.Format(time.RFC3339), err)
		}
		return nil
	}
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		c.delay(ctx, p, ts, raw)
		c.setStatus(ctx, p, id, "scheduled", ts*1000)
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %s at %s: %w", id, t.Format(time.RFC3339), err)
	}
	return nil
}

// EnqueueIn is EnqueueAt(now+d).
func (c *Client) EnqueueIn(ctx context.Context, d time.Duration, id, raw string) error {
	return c.EnqueueAt(ctx, time.Now().Add(d), id, raw)
}

func (c *Client) delay(ctx context.Context, p redis.Pipeliner, ts int64, raw string) {
	key := c.keys.Delayed(ts)
	p.RPush(ctx, key, raw)
	p.SAdd(ctx, c.keys.Timestamps(raw), "delayed:"+fmt.Sprint(ts))
	p.ZAdd(ctx, c.keys.Schedule(), redis.Z{Score: float64(ts), Member: fmt.Sprint(ts)})
}

func (c *Client) setStatus(ctx context.Context, p redis.Pipeliner, id, status string, runAtMS int64) {
	k := c.keys.Job(id)
	fields := []any{"status", status, "updated", nowMS()}
	if runAtMS > 0 {
		fields = append(fields, "run_at", runAtMS)
	}
	p.HSet(ctx, k, fields...)
	p.Expire(ctx, k, c.jobTTL)
}

// moveDueScript moves every job whose time has come from the delayed
// schedule to its queue, as node-resque's scheduler does item by item — but
// in one script, so two schedulers (or a scheduler killed halfway) can never
// move a job twice or drop it between LPOP and RPUSH.
// KEYS[1] schedule zset; ARGV[1] now (unix s), ARGV[2] namespace prefix,
// ARGV[3] most timestamps per call. Returns the number of jobs moved.
const moveDueScript = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local moved = 0
for _, ts in ipairs(due) do
  local key = ARGV[2] .. 'delayed:' .. ts
  local items = redis.call('LRANGE', key, 0, -1)
  for _, item in ipairs(items) do
    local ok, job = pcall(cjson.decode, item)
    local q = 'default'
    if ok and type(job) == 'table' and type(job.queue) == 'string' then q = job.queue end
    redis.call('SADD', ARGV[2] .. 'queues', q)
    redis.call('RPUSH', ARGV[2] .. 'queue:' .. q, item)
    redis.call('SREM', ARGV[2] .. 'timestamps:' .. item, 'delayed:' .. ts)
    moved = moved + 1
  end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], ts)
end
return moved
`

var moveDue = redis.NewScript(moveDueScript)

// MoveDue moves jobs due by now to their queues; returns how many.
func (c *Client) MoveDue(ctx context.Context, now time.Time) (int, error) {
	n, err := moveDue.Run(ctx, c.rdb, []string{c.keys.Schedule()}, now.Unix(), c.keys.Prefix(), 100).Int()
	if err != nil {
		return 0, fmt.Errorf("move due jobs: %w", err)
	}
	return n, nil
}

// AcquireLeader takes or renews resque-scheduler's leader lock for name
// (SET NX EX, renewed by its holder as node-resque does), so several
// schedulers — ours or node-resque's — can run and one moves jobs.
func (c *Client) AcquireLeader(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := c.rdb.SetNX(ctx, c.keys.LeaderLock(), name, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("scheduler leader lock: %w", err)
	}
	if ok {
		return true, nil
	}
	renewed, err := renewLock.Run(ctx, c.rdb, []string{c.keys.LeaderLock()}, name, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew scheduler leader lock: %w", err)
	}
	return renewed == 1, nil
}

// renewLockScript extends the lock only if we still hold it: a GET then
// EXPIRE from the client could extend a lock another scheduler took in
// between.
const renewLockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`

var renewLock = redis.NewScript(renewLockScript)

// ReleaseLeader gives the lock up if name holds it.
func (c *Client) ReleaseLeader(ctx context.Context, name string) error {
	return releaseLock.Run(ctx, c.rdb, []string{c.keys.LeaderLock()}, name).Err()
}

// releaseLockScript deletes the lock only if it is still ours.
const releaseLockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

var releaseLock = redis.NewScript(releaseLockScript)

// delaySecond is the Resque timestamp for a job due at t. node-resque rounds
// to the nearest second; we round up, so our scheduler (which moves jobs
// whose second has come) never runs a job early. node-resque's scheduler
// rounds its own clock, so on its side a job may still run up to 0.5 s
// before t: the format's resolution is one second.
func delaySecond(t time.Time) int64 {
	return int64(math.Ceil(float64(t.UnixMilli()) / 1000))
}
