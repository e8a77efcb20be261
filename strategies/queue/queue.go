// Package queue is the talk's closing strategy, "this is now a good idea":
// the web side enqueues the job into Redis in Resque's layout and answers
// 202; worker processes, any number on any machine, claim and perform it.
// Jobs are wire-compatible with node-resque and Ruby resque (class
// "sendEmail", queue "email", one argument: the job object).
//
// Why it is better: a 202 means the job is stored in Redis (one MULTI), so
// it survives a web crash; a worker claims jobs atomically into its own
// inflight list (resque/claim.go), so a worker killed mid-job loses nothing:
// once its ping key expires (--reclaim-after, default 15s) any worker puts its
// jobs back at the head of the queue. Failed jobs are retried with
// exponential backoff and jitter through Resque's delayed set, and go to
// resque:failed after the limit; a job that keeps killing its workers
// (poison) goes there after --max-deliveries. The multi-worker grows and
// shrinks its processors by the event-loop lag it measures, as node-resque's
// MultiWorker does. Every number the talk asked for is on /metrics, GET
// /jobs/{id} and `offload queue stats`.
//
// Why it is still a bad idea (sometimes): delivery is at-least-once, not
// exactly-once. A worker that dies after sending a mail but before its ack
// reached Redis sends it again after the reclaim timeout: duplicates are
// bounded by what was in flight and counted (the job's attempts, the sink).
// A job reclaimed from a worker that was only paused longer than the timeout
// runs twice. Redis is now a dependency whose durability is yours to
// configure (appendonly yes, appendfsync always keeps every 202'd job across
// a restart; the defaults lose up to a second). While Redis is down the web
// side answers 503 and workers wait. A claim Redis performed but whose
// reply died with it leaves jobs in a live worker's inflight list that the
// worker never heard of; the worker notices the error and puts them back
// (resque/orphans.go), so they run late, not never. The delayed set has
// one-second resolution, as in Resque. Spread over the shards of a Redis
// Cluster (--shards), a shard whose master fails a command is passed over
// for a second and its jobs go to another shard (resque.Client.Place), so
// a failover costs one shard's in-flight requests a timeout, not the whole
// web side's.
//
// What the harness shows: no loss under worker, web and Redis restarts,
// duplicates ≤ in-flight, queue length and oldest wait growing while workers
// are down, and the multi-worker's size following lag.
package queue

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/replwait"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/queue/resque"
)

// Resque names of our job.
const (
	Queue = "email"
	Class = "sendEmail"
)

// Queue is the web side; build it with New.
type Web struct {
	c   *resque.Client
	log *slog.Logger
}

var (
	_ strategies.Strategy  = (*Web)(nil)
	_ strategies.Tracker   = (*Web)(nil)
	_ strategies.Scheduler = (*Web)(nil)
)

// Options are the web side's own flags.
type Options struct {
	Namespace string // Redis key prefix ["resque"]; the workers' must match
	Shards    int    // hash-tagged namespaces one queue is spread over [1]; the workers' must match
}

// registerLayout registers the flags that say where the queue's keys are,
// shared by the web side and the workers so that both read the same keys.
func registerLayout(fs *flag.FlagSet, ns *string, shards *int) {
	fs.StringVar(ns, "namespace", resque.DefaultNamespace, "queue: Redis key prefix (web and workers must agree; in a cluster it needs a {hash tag})")
	fs.IntVar(shards, "shards", 1, "queue: spread the queue over this many hash-tagged namespaces, one per cluster master (web and workers must agree)")
}

// checkShards is the one bound on --shards.
func checkShards(n int) error {
	if n < 1 || n > 1024 {
		return fmt.Errorf("--shards %d: want 1 to 1024", n)
	}
	return nil
}

// WebFlags registers the web side's flags on fs and returns its
// constructor: the catalog entry's WebFlags func.
func WebFlags(fs *flag.FlagSet) func(strategies.Config) (strategies.Strategy, error) {
	var o Options
	registerLayout(fs, &o.Namespace, &o.Shards)
	return func(cfg strategies.Config) (strategies.Strategy, error) {
		if err := checkShards(o.Shards); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		return NewWith(cfg, o)
	}
}

// New is NewWith the default options.
func New(cfg strategies.Config) (strategies.Strategy, error) { return NewWith(cfg, Options{}) }

// NewWith connects to cfg.RedisURL and pings it: an unreachable Redis is an
// error here, so `offload serve` fails fast.
func NewWith(cfg strategies.Config, o Options) (strategies.Strategy, error) {
	c, err := resque.Open(context.Background(), resque.Options{URL: cfg.RedisURL, Namespace: o.Namespace, Shards: o.Shards})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	durable, err := replwait.FromFlag(cfg.Durable)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	c.SetDurability(durable)
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &Web{c: c, log: log}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(newCollector(c, Queue)); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("queue: register metrics: %w", err)
		}
	}
	return w, nil
}

func (w *Web) Name() string { return "queue" }

// Submit stores the job and answers 202 only once Redis has it; any Redis
// error is a 503.
func (w *Web) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	w.enqueue(rt, j, time.Time{}, reply)
}

// SubmitAt schedules the job for at (the resque delayed queue) on the same
// terms as Submit.
func (w *Web) SubmitAt(rt strategies.Runtime, j job.Job, at time.Time, reply func(strategies.Outcome)) {
	w.enqueue(rt, j, at, reply)
}

// enqueueCommands is how many Redis commands one enqueue issues (SADD,
// RPUSH, and the status hash's HSET and EXPIRE, in one MULTI; see
// resque.Client.Enqueue), each charged to the loop as ioredis would cost it.
// MULTI/EXEC framing and --durable wait's WAIT are not counted.
const enqueueCommands = 4

func (w *Web) enqueue(rt strategies.Runtime, j job.Job, at time.Time, reply func(strategies.Outcome)) {
	if j.Accepted.IsZero() {
		j.Accepted = time.Now()
	}
	raw, err := resque.Encode(Queue, Class, j)
	if err != nil {
		reply(strategies.Outcome{Err: err})
		return
	}
	eventloop.Charge(rt, eventloop.CostRedisCommand*enqueueCommands)
	rt.IO(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return w.c.Place(ctx, j.ID, func(ctx context.Context, s *resque.Client) error {
			if !at.IsZero() {
				return s.EnqueueAt(ctx, at, j.ID, raw)
			}
			return s.Enqueue(ctx, Queue, j.ID, raw)
		})
	}, func(err error) {
		if err != nil {
			w.log.Warn("enqueue failed", "id", j.ID, "err", err)
			reply(strategies.Outcome{Err: fmt.Errorf("%w: redis: %v", strategies.ErrUnavailable, err)})
			return
		}
		if !at.IsZero() {
			reply(strategies.Outcome{Status: strategies.StatusAccepted, Extra: map[string]any{"delay_ms": j.DelayMS, "run_at": at}})
			return
		}
		reply(strategies.Outcome{Status: strategies.StatusAccepted})
	})
}

// State answers GET /jobs/{id} from the job's status hash.
func (w *Web) State(ctx context.Context, id string) (strategies.JobState, error) {
	st, err := w.c.Find(ctx, id)
	if errors.Is(err, resque.ErrNoSuchJob) {
		return strategies.JobState{}, fmt.Errorf("%w: %s (unknown, or finished more than a day ago)", strategies.ErrUnknownJob, id)
	}
	if err != nil {
		return strategies.JobState{}, fmt.Errorf("%w: %v", strategies.ErrUnavailable, err)
	}
	js := strategies.JobState{ID: id, Strategy: "queue", Attempts: st.Attempts, Error: st.Error, Updated: st.Updated}
	switch st.Status {
	case "queued", "scheduled", "retrying":
		js.Status = strategies.StatusQueued
		if !st.RunAt.IsZero() {
			js.Extra = map[string]any{"run_at": st.RunAt, "state": st.Status}
		}
	case "running":
		js.Status = strategies.StatusRunning
		js.Extra = map[string]any{"worker": st.Worker}
	case "done":
		js.Status = strategies.StatusDone
	case "failed":
		js.Status = strategies.StatusFailed
	default:
		js.Status = strategies.StatusUnknown
	}
	return js, nil
}

// Close closes the Redis connections. Safe twice.
func (w *Web) Close(context.Context) error { return w.c.Close() }

// collector reads the queue's numbers from Redis at scrape time, so /metrics
// on any web or worker process shows the whole queue.
type collector struct {
	c     *resque.Client
	queue string
	descs map[string]*prometheus.Desc
	shard *prometheus.Desc
}

func newCollector(c *resque.Client, queue string) *collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("offload_queue_"+name, help, []string{"queue"}, nil)
	}
	return &collector{c: c, queue: queue,
		shard: prometheus.NewDesc("offload_queue_shard_length", "Jobs waiting in one shard's list (one per hash-tagged namespace).", []string{"queue", "namespace"}, nil),
		descs: map[string]*prometheus.Desc{
			"length":          d("length", "Jobs waiting in the queue."),
			"oldest":          d("oldest_wait_seconds", "How long the job at the head of the queue has waited."),
			"inflight":        d("inflight", "Jobs claimed by workers and not yet acknowledged."),
			"delayed":         d("delayed", "Jobs in the delayed set (scheduled and retries)."),
			"failed":          d("failed", "Jobs in resque:failed."),
			"processed_total": d("processed_total", "resque:stat:processed."),
			"retries_total":   d("retries_total", "Retries scheduled after a failed attempt."),
			"reclaimed_total": d("reclaimed_total", "Jobs put back from workers that stopped pinging."),
			"workers":         d("workers_alive", "Workers with a live ping."),
			"redis_up":        d("redis_up", "1 when the last scrape could read the queue from Redis, 0 when it could not."),
		}}
}

func (k *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range k.descs {
		ch <- d
	}
	ch <- k.shard
}

func (k *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	shards, err := k.c.ShardStats(ctx, k.queue)
	s := resque.Sum(shards)
	g := func(name string, v float64) {
		typ := prometheus.GaugeValue
		if strings.HasSuffix(name, "total") {
			typ = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(k.descs[name], typ, v, k.queue)
	}
	if err != nil {
		g("redis_up", 0)
		return
	}
	g("redis_up", 1)
	for _, sh := range shards {
		ch <- prometheus.MustNewConstMetric(k.shard, prometheus.GaugeValue, float64(sh.Length), k.queue, sh.Namespace)
	}
	alive := 0
	for _, w := range s.Workers {
		if w.Alive {
			alive++
		}
	}
	g("length", float64(s.Length))
	g("oldest", s.OldestWait.Seconds())
	g("inflight", float64(s.Inflight))
	g("delayed", float64(s.Delayed))
	g("failed", float64(s.Failed))
	g("processed_total", float64(s.Processed))
	g("retries_total", float64(s.Retries))
	g("reclaimed_total", float64(s.Reclaimed))
	g("workers", float64(alive))
}
