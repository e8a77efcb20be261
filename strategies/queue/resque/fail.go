package resque

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/workerid"
)

// Failure is node-resque's failure record, the shape of resque:failed.
type Failure struct {
	Worker    string          `json:"worker"`
	Queue     string          `json:"queue"`
	Payload   json.RawMessage `json:"payload"`
	Exception string          `json:"exception"`
	Error     string          `json:"error"`
	Backtrace []string        `json:"backtrace"`
	FailedAt  string          `json:"failed_at"`
}

// jsDate is JavaScript's Date.prototype.toString, which node-resque writes
// into failed_at (Ruby resque writes its own format; both are strings).
const jsDate = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

// Retry takes j out of the worker's inflight list and schedules it again at
// t through the delayed set (so either side's scheduler runs it), in one
// MULTI: the job is never in both places nor in neither.
func (c *Client) Retry(ctx context.Context, w Worker, j Job, t time.Time, cause error) error {
	ts := delaySecond(t)
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LRem(ctx, c.keys.Inflight(w.Name), 1, j.Raw)
		c.delay(ctx, p, ts, j.Raw)
		p.HSet(ctx, c.keys.Job(j.ID), "status", "retrying", "updated", nowMS(), "run_at", ts*1000, "error", cause.Error())
		p.Incr(ctx, c.keys.Retries())
		return nil
	})
	if err != nil {
		return fmt.Errorf("retry %s: %w", j.ID, err)
	}
	return nil
}

// Fail moves j from the inflight list to resque:failed with node-resque's
// record, counts it (stat:failed, stat:failed:<worker>) and marks it failed,
// in one MULTI.
func (c *Client) Fail(ctx context.Context, w Worker, j Job, exception string, cause error) error {
	rec, err := json.Marshal(Failure{
		Worker: w.Name, Queue: j.Payload.Queue, Payload: payloadJSON(j.Raw), Exception: exception,
		Error: cause.Error(), Backtrace: []string{fmt.Sprintf("attempt %d", j.Attempts), "offload/strategies/queue"},
		FailedAt: time.Now().Format(jsDate),
	})
	if err != nil {
		return fmt.Errorf("encode failure of %s: %w", j.ID, err)
	}
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LRem(ctx, c.keys.Inflight(w.Name), 1, j.Raw)
		p.RPush(ctx, c.keys.Failed(), rec)
		p.Incr(ctx, c.keys.Stat("failed"))
		p.Incr(ctx, c.keys.WorkerStat("failed", w.Name))
		k := c.keys.Job(j.ID)
		p.HSet(ctx, k, "status", "failed", "updated", nowMS(), "error", cause.Error())
		p.Expire(ctx, k, c.jobTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("fail %s: %w", j.ID, err)
	}
	return nil
}

// payloadJSON keeps a valid payload as an object and wraps anything else as
// a JSON string, so the failure record stays valid JSON.
func payloadJSON(raw string) json.RawMessage {
	if json.Valid([]byte(raw)) {
		return json.RawMessage(raw)
	}
	b, _ := json.Marshal(raw)
	return b
}

// reclaimScript puts a dead worker's inflight jobs back at the head of
// their queues (they waited longest), or into failed once a job has been
// delivered max times (a poison job that kills its workers), and removes
// the worker's registration as node-resque's untrack does. The EXISTS check
// and the move are one script, so a worker that pings again between a
// check and a move cannot lose jobs it is still working on; with force=1
// (our own graceful stop) the ping is ignored.
// KEYS[1] ping, KEYS[2] inflight, KEYS[3] holders, KEYS[4] failed,
// KEYS[5] workers set, KEYS[6] stat:failed, KEYS[7] stat:offload_reclaimed;
// ARGV[1] worker, ARGV[2] max deliveries, ARGV[3] namespace prefix,
// ARGV[4] now ms, ARGV[5] failed_at, ARGV[6] force, ARGV[7] queues.
// Returns {requeued, failed}.
const reclaimScript = `
if ARGV[6] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local requeued, failed = 0, 0
local max = tonumber(ARGV[2])
for i = #items, 1, -1 do
  local p = items[i]
  local ok, d = pcall(cjson.decode, p)
  if not ok or type(d) ~= 'table' then d = nil end
  local id, q = nil, 'default'
  if d and type(d.queue) == 'string' then q = d.queue end
  if d and type(d.args) == 'table' and type(d.args[1]) == 'table' and type(d.args[1].id) == 'string' and d.args[1].id ~= '' then
    id = d.args[1].id
  else
    id = 'sha1-' .. redis.sha1hex(p)
  end
  local k = ARGV[3] .. 'offload:job:' .. id
  local attempts = tonumber(redis.call('HGET', k, 'attempts') or '0')
  if ARGV[6] ~= '1' and max > 0 and attempts >= max then
    local rec = cjson.encode({worker = ARGV[1], queue = q, payload = d or p,
      exception = 'WorkerDied', error = 'worker died ' .. attempts .. ' times while running this job',
      backtrace = {'reclaimed from ' .. ARGV[1], 'offload/strategies/queue'}, failed_at = ARGV[5]})
    redis.call('RPUSH', KEYS[4], rec)
    redis.call('INCR', KEYS[6])
    redis.call('HSET', k, 'status', 'failed', 'updated', ARGV[4], 'error', 'worker died while running it')
    failed = failed + 1
  else
    redis.call('SADD', ARGV[3] .. 'queues', q)
    redis.call('LPUSH', ARGV[3] .. 'queue:' .. q, p)
    redis.call('HSET', k, 'status', 'queued', 'updated', ARGV[4])
    requeued = requeued + 1
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1] .. ':' .. ARGV[7])
redis.call('DEL', KEYS[1], ARGV[3] .. 'worker:' .. ARGV[1] .. ':' .. ARGV[7] .. ':started',
  ARGV[3] .. 'stat:processed:' .. ARGV[1], ARGV[3] .. 'stat:failed:' .. ARGV[1])
if ARGV[6] ~= '1' then redis.call('INCRBY', KEYS[7], requeued) end
return {requeued, failed}
`

var reclaim = redis.NewScript(reclaimScript)

// Reclaimed is what one Reclaim call did.
type Reclaimed struct {
	Workers, Requeued, Failed int
}

// Reclaim walks the holders and returns the jobs of every worker whose ping
// has expired to its queue (or to failed after maxDeliveries).
func (c *Client) Reclaim(ctx context.Context, maxDeliveries int, queues string) (Reclaimed, error) {
	var r Reclaimed
	names, err := c.rdb.SMembers(ctx, c.keys.Holders()).Result()
	if err != nil {
		return r, fmt.Errorf("list inflight holders: %w", err)
	}
	for _, name := range names {
		q, f, err := c.reclaimOne(ctx, name, queues, maxDeliveries, false)
		if err != nil {
			return r, err
		}
		if q+f > 0 {
			r.Workers++
		}
		r.Requeued += q
		r.Failed += f
	}
	return r, nil
}

func (c *Client) reclaimOne(ctx context.Context, name, queues string, maxDeliveries int, force bool) (int, int, error) {
	keys := []string{c.keys.Ping(name), c.keys.Inflight(name), c.keys.Holders(), c.keys.Failed(),
		c.keys.Workers(), c.keys.Stat("failed"), c.keys.Reclaimed()}
	f := "0"
	if force {
		f = "1"
	}
	res, err := reclaim.Run(ctx, c.rdb, keys, name, maxDeliveries, c.keys.Prefix(), nowMS(),
		time.Now().Format(jsDate), f, queues).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("reclaim jobs of %s: %w", name, err)
	}
	return int(res[0]), int(res[1]), nil
}

// Register announces w as node-resque's worker.track and start do
// (resque:workers, ...:started, a ping) and as a holder of an inflight list.
func (c *Client) Register(ctx context.Context, w Worker) error {
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, c.keys.Workers(), w.Name+":"+w.Queues)
		p.Set(ctx, c.keys.WorkerStarted(w.Name, w.Queues), time.Now().Unix(), 0)
		p.Set(ctx, c.keys.Ping(w.Name), w.pingJSON(), w.PingTTL)
		p.SAdd(ctx, c.keys.Holders(), w.Name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("register worker %s: %w", w.Name, err)
	}
	return nil
}

// Ping refreshes w's liveness key.
func (c *Client) Ping(ctx context.Context, w Worker) error {
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, c.keys.Ping(w.Name), w.pingJSON(), w.PingTTL)
		p.SAdd(ctx, c.keys.Holders(), w.Name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("ping worker %s: %w", w.Name, err)
	}
	return nil
}

// Deregister puts back whatever w still holds (jobs claimed but not
// finished when a graceful stop ran out of time) and removes its keys.
func (c *Client) Deregister(ctx context.Context, w Worker) (requeued int, err error) {
	q, _, err := c.reclaimOne(ctx, w.Name, w.Queues, 0, true)
	return q, err
}

// Hostname for worker names.
func Hostname() string { return workerid.Host() }
