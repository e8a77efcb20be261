package queue

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/workerhttp"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/queue/resque"
)

// WorkOptions are `offload work --strategy queue`'s own flags.
type WorkOptions struct {
	Concurrency   int           // fixed size; 0 = scale between Min and Max
	Min, Max      int           // processor bounds [1, 20]
	CheckInterval time.Duration // how often the size is reconsidered [500ms]
	MaxLag        time.Duration // loop lag that counts as blocked [10ms]
	ReclaimAfter  time.Duration // ping TTL: a silent worker's jobs go back after this [15s]
	Retries       int           // retries after a failed attempt [5]
	MaxDeliveries int           // reclaims before a job is poison [5]
	Prefetch      int           // jobs claimed beyond free processors [= processors]
	Batch         int           // most jobs per claim [100]
	Scheduler     bool          // also run a delayed-job scheduler [true]
	BackoffBase   time.Duration // first retry's delay [1s]
	Namespace     string        // Redis key prefix ["resque"]; the web side's must match
	Shards        int           // hash-tagged namespaces the queue is spread over [1]; the web side's must match
}

// Worker registers the worker's flags on fs and returns what runs it: the
// catalog entry's Worker func.
func Worker(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.WorkConfig) error {
	var o WorkOptions
	registerLayout(fs, &o.Namespace, &o.Shards)
	fs.IntVar(&o.Concurrency, "concurrency", 0, "queue: fixed number of processors (0: scale between --min and --max by loop lag)")
	fs.IntVar(&o.Min, "min", 1, "queue: fewest processors")
	fs.IntVar(&o.Max, "max", 20, "queue: most processors")
	fs.DurationVar(&o.CheckInterval, "check-interval", 500*time.Millisecond, "queue: how often the multi-worker reconsiders its size")
	fs.DurationVar(&o.MaxLag, "max-lag", 10*time.Millisecond, "queue: loop lag that counts as blocked (node-resque's maxEventLoopDelay)")
	fs.DurationVar(&o.ReclaimAfter, "reclaim-after", 15*time.Second, "queue: a worker silent this long has its in-flight jobs put back")
	fs.IntVar(&o.Retries, "retries", 5, "queue: retries after a failed attempt, with exponential backoff")
	fs.IntVar(&o.MaxDeliveries, "max-deliveries", 5, "queue: deliveries to dying workers before a job is poison (goes to failed)")
	fs.IntVar(&o.Prefetch, "prefetch", 0, "queue: jobs claimed beyond free processors (0: as many as processors)")
	fs.IntVar(&o.Batch, "batch", 100, "queue: most jobs claimed in one round trip")
	fs.BoolVar(&o.Scheduler, "scheduler", true, "queue: also move due delayed jobs (leader-locked: any number may run)")
	fs.DurationVar(&o.BackoffBase, "backoff", time.Second, "queue: delay before the first retry; doubles each time")
	return func(ctx context.Context, cfg strategies.WorkConfig) error { return Work(ctx, o, cfg) }
}

func (o WorkOptions) validate() error {
	if err := checkShards(max(o.Shards, 1)); err != nil {
		return err
	}
	switch {
	case o.Concurrency < 0:
		return fmt.Errorf("--concurrency %d: must not be negative", o.Concurrency)
	case o.Concurrency == 0 && (o.Min < 1 || o.Max < o.Min):
		return fmt.Errorf("--min %d --max %d: want 1 <= min <= max", o.Min, o.Max)
	case o.Max > resque.MaxProcessors || o.Concurrency > resque.MaxProcessors:
		return fmt.Errorf("--max: at most %d", resque.MaxProcessors)
	case o.CheckInterval <= 0 || o.ReclaimAfter < time.Second:
		return errors.New("--check-interval must be positive and --reclaim-after at least 1s")
	}
	return nil
}

// Work runs one multi-worker process until ctx ends, then stops gracefully.
func Work(ctx context.Context, o WorkOptions, cfg strategies.WorkConfig) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Concurrency > 0 {
		o.Min, o.Max = o.Concurrency, o.Concurrency
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c, err := resque.Open(ctx, resque.Options{URL: cfg.RedisURL, Namespace: o.Namespace, Shards: o.Shards, NoRetry: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return fmt.Errorf("queue worker: %w", err)
	}
	defer c.Close()
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, MaxConns: o.Max}) // one connection per processor, at most
	if err != nil {
		return fmt.Errorf("queue worker: %w", err)
	}
	defer m.Close()

	// The worker has a loop as a Node worker does: CPU work runs on it, I/O
	// waits do not, and the lag monitor probes it.
	loop := eventloop.NewLoop(1)
	defer loop.Close()
	mon := lagmonitor.New(lagmonitor.Config{Every: loop.Every, BlockThreshold: o.MaxLag})
	mon.Start(ctx)
	defer mon.Stop()

	h := &handler{mailer: m, loop: loop}
	cons, err := resque.NewConsumer(c, resque.ConsumerConfig{
		Queue: Queue, Worker: resque.Worker{PingTTL: o.ReclaimAfter}, Handler: h.perform,
		Size: o.Min, Prefetch: o.Prefetch, Batch: o.Batch, Retries: o.Retries,
		Backoff: resque.ExpBackoff(o.BackoffBase, 5*time.Minute), MaxDeliveries: o.MaxDeliveries, Log: log,
	})
	if err != nil {
		return err
	}
	sc := newScaler(cons, mon, o, log)
	reg := workerRegistry(c, cons, sc, mon)
	if cfg.HTTPAddr != "" {
		_, stopHTTP, err := workerhttp.Serve(ctx, workerhttp.Config{Addr: cfg.HTTPAddr, Strategy: "queue", Registry: reg, Monitor: mon, Logger: log,
			Health: func() map[string]any {
				return map[string]any{"processors": cons.Size(), "busy": cons.Busy(), "held": cons.Held()}
			}})
		if err != nil {
			return err
		}
		defer stopHTTP()
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); sc.run(runCtx) }()
	if o.Scheduler {
		for _, shard := range c.Shards() {
			s := resque.NewScheduler(shard, cons.Worker().Name+":scheduler", 0, log)
			go s.Run(runCtx)
		}
	}
	err = cons.Run(ctx)
	cancel()
	<-done
	return err
}

// handler performs our sendEmail jobs.
type handler struct {
	mailer *mailer.Mailer
	loop   *eventloop.Loop
}

func (h *handler) perform(ctx context.Context, rj resque.Job) error {
	if rj.Payload.Class != Class {
		return resque.Permanent(fmt.Errorf("unknown job class %q: this worker performs %s", rj.Payload.Class, Class))
	}
	if len(rj.Payload.Args) != 1 {
		return resque.Permanent(fmt.Errorf("%s takes one argument, got %d", Class, len(rj.Payload.Args)))
	}
	var j job.Job
	if err := json.Unmarshal(rj.Payload.Args[0], &j); err != nil {
		return resque.Permanent(fmt.Errorf("decode %s argument: %w", Class, err))
	}
	if j.ID == "" {
		j.ID = rj.ID // enqueued by node-resque or resque: tracked by its hash
	}
	if j.Kind == "" {
		j.Kind = job.KindIO
	}
	if err := j.Validate(); err != nil {
		return resque.Permanent(err)
	}
	if j.Kind == job.KindCPU {
		return h.onLoop(ctx, func() { job.Burn(j.Cost()) })
	}
	err := h.mailer.Send(ctx, j)
	var me *mailer.Error
	if errors.As(err, &me) && !me.Temporary {
		return resque.Permanent(err)
	}
	return err
}

// onLoop runs fn on the worker's loop and waits for it.
func (h *handler) onLoop(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	h.loop.Post(func() { fn(); close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func workerRegistry(c *resque.Client, k *resque.Consumer, sc *scaler, mon *lagmonitor.Monitor) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), mon, newCollector(c, Queue), sc.changes)
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "offload_worker_" + name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "offload_worker_" + name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("processors", "Task processors (jobs this worker runs at once).", func() float64 { return float64(k.Size()) }),
		gauge("busy", "Processors running a job now.", func() float64 { return float64(k.Busy()) }),
		gauge("held", "Jobs this worker has claimed and not finished.", func() float64 { return float64(k.Held()) }),
		counter("processed_total", "Jobs acknowledged.", func() float64 { return float64(k.Counters.Processed.Load()) }),
		counter("failed_total", "Jobs sent to resque:failed.", func() float64 { return float64(k.Counters.Failed.Load()) }),
		counter("retries_total", "Failed attempts scheduled for retry.", func() float64 { return float64(k.Counters.Retried.Load()) }),
		counter("redelivered_total", "Jobs claimed that had been delivered before: possible duplicates.", func() float64 { return float64(k.Counters.Redelivered.Load()) }),
		counter("late_acks_total", "Acks for jobs already reclaimed from this worker: they run again.", func() float64 { return float64(k.Counters.LateAcks.Load()) }),
		counter("reclaimed_total", "Jobs this worker put back from dead workers.", func() float64 { return float64(k.Counters.Reclaimed.Load()) }),
	)
	return reg
}
