package resque

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Worker identifies one claiming process in Redis.
type Worker struct {
	Name   string // host:pid(+n), as node-resque names its workers
	Queues string // comma-separated, as node-resque's stringQueues
	// PingTTL: a worker whose ping key has been gone this long is dead and
	// its inflight jobs are put back by Reclaim.
	PingTTL time.Duration
}

func (w Worker) pingJSON() string {
	b, _ := json.Marshal(map[string]any{"time": time.Now().Unix(), "name": w.Name, "queues": w.Queues})
	return string(b)
}

// claimScript moves up to ARGV[1] jobs from the head of a queue to the tail
// of the worker's inflight list and marks each running, in one round trip.
// The race it closes: with LPOP then RPUSH from the client, a worker killed
// between the two loses the job; here the job is always in exactly one of
// the two lists. It also refreshes the worker's ping and registers it as a
// holder, so a worker that claims is never reclaimed for missing a ping.
// KEYS[1] queue, KEYS[2] inflight, KEYS[3] ping, KEYS[4] holders set;
// ARGV[1] count, ARGV[2] worker, ARGV[3] ping JSON, ARGV[4] ping TTL ms,
// ARGV[5] job-hash prefix, ARGV[6] now ms.
// Returns {payloads..., attempts...} flattened: the first half payloads.
const claimScript = `
local items = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not items then return {} end
redis.call('RPUSH', KEYS[2], unpack(items))
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('SADD', KEYS[4], ARGV[2])
local out, att = {}, {}
for i, p in ipairs(items) do
  local ok, d = pcall(cjson.decode, p)
  local id = nil
  if ok and type(d) == 'table' and type(d.args) == 'table' and type(d.args[1]) == 'table' and type(d.args[1].id) == 'string' and d.args[1].id ~= '' then
    id = d.args[1].id
  else
    id = 'sha1-' .. redis.sha1hex(p)
  end
  local k = ARGV[5] .. id
  att[i] = redis.call('HINCRBY', k, 'attempts', 1)
  redis.call('HSET', k, 'status', 'running', 'updated', ARGV[6], 'worker', ARGV[2])
  out[i] = p
end
for i = 1, #att do out[#items + i] = att[i] end
return out
`

var claim = redis.NewScript(claimScript)

// Claim takes up to n jobs from queue for w.
func (c *Client) Claim(ctx context.Context, w Worker, queue string, n int) ([]Job, error) {
	keys := []string{c.keys.Queue(queue), c.keys.Inflight(w.Name), c.keys.Ping(w.Name), c.keys.Holders()}
	res, err := claim.Run(ctx, c.rdb, keys, n, w.Name, w.pingJSON(), w.PingTTL.Milliseconds(), c.keys.JobPrefix(), nowMS()).Slice()
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", queue, err)
	}
	half := len(res) / 2
	now := time.Now()
	jobs := make([]Job, 0, half)
	for i := range half {
		raw, _ := res[i].(string)
		att, _ := res[half+i].(int64)
		j := decodeJob(raw, int(att), now)
		j.Shard = c.index
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func decodeJob(raw string, attempts int, now time.Time) Job {
	j := Job{Raw: raw, Attempts: attempts, Claimed: now}
	_ = json.Unmarshal([]byte(raw), &j.Payload) // a bad payload still gets an id and fails in the handler
	j.ID = IDOf(raw, j.Payload)
	return j
}

// markRunningScript is the status half of claimScript, for a job that
// ClaimWait moved with BLMOVE (which cannot run a script).
const markRunningScript = `
local a = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'updated', ARGV[1], 'worker', ARGV[2])
return a
`

var markRunning = redis.NewScript(markRunningScript)

// ClaimWait blocks up to d for one job, for when the queue is empty: BLMOVE
// moves it atomically into the inflight list (same guarantee as Claim),
// so an idle worker picks a new job up at once instead of polling. If the
// worker dies before the status update, the job is still reclaimed; only its
// attempts count misses this delivery.
func (c *Client) ClaimWait(ctx context.Context, w Worker, queue string, d time.Duration) (Job, bool, error) {
	var raw string
	var err error
	if d >= time.Second {
		raw, err = c.rdb.BLMove(ctx, c.keys.Queue(queue), c.keys.Inflight(w.Name), "LEFT", "RIGHT", d).Result()
	} else {
		// go-redis rounds a blocking timeout under a second up to one;
		// Redis itself takes decimal seconds. A worker of several shards
		// blocks on one at a time, briefly, so a job on another waits little.
		raw, err = c.rdb.Do(ctx, "BLMOVE", c.keys.Queue(queue), c.keys.Inflight(w.Name), "LEFT", "RIGHT",
			strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Text()
	}
	if errors.Is(err, redis.Nil) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("wait for a job on %s: %w", queue, err)
	}
	j := decodeJob(raw, 1, time.Now())
	j.Shard = c.index
	if a, err := markRunning.Run(ctx, c.rdb, []string{c.keys.Job(j.ID)}, nowMS(), w.Name).Int(); err == nil {
		j.Attempts = a
	}
	return j, true, nil
}

// ackScript removes finished jobs from the inflight list, marks them done
// and counts them, for a whole batch in one round trip. LREM finds each job
// near the head, since jobs finish roughly in the order they were claimed.
// A job no longer in the list was reclaimed while it ran (this worker was
// presumed dead): it will run again, so it is counted as a late ack.
// KEYS[1] inflight, KEYS[2] stat:processed, KEYS[3] stat:processed:<worker>;
// ARGV[1] job-hash prefix, ARGV[2] now ms, ARGV[3] ttl s, then raw, id pairs.
const ackScript = `
local n, late = 0, 0
for i = 4, #ARGV, 2 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 0 then late = late + 1 end
  local k = ARGV[1] .. ARGV[i + 1]
  redis.call('HSET', k, 'status', 'done', 'updated', ARGV[2])
  redis.call('EXPIRE', k, ARGV[3])
  n = n + 1
end
redis.call('INCRBY', KEYS[2], n)
redis.call('INCRBY', KEYS[3], n)
return late
`

var ack = redis.NewScript(ackScript)

// Ack acknowledges finished jobs; it returns how many had already been
// reclaimed (they will be delivered again).
func (c *Client) Ack(ctx context.Context, w Worker, jobs []Job) (late int, err error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 3+2*len(jobs))
	args = append(args, c.keys.JobPrefix(), nowMS(), int(c.jobTTL.Seconds()))
	for _, j := range jobs {
		args = append(args, j.Raw, j.ID)
	}
	keys := []string{c.keys.Inflight(w.Name), c.keys.Stat("processed"), c.keys.WorkerStat("processed", w.Name)}
	late, err = ack.Run(ctx, c.rdb, keys, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("ack %d jobs: %w", len(jobs), err)
	}
	return late, nil
}
