package resque

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/offload/offload/internal/backoff"
)

// Run registers the worker and works the queue until ctx ends, then stops
// gracefully: no more claims, running jobs get StopTimeout to finish, acks
// are flushed, and whatever is still held goes back to the queue before the
// worker deregisters.
func (k *Consumer) Run(ctx context.Context) error {
	w := k.cfg.Worker
	for _, s := range k.c.Shards() {
		if err := s.Register(ctx, w); err != nil {
			if ctx.Err() != nil {
				return nil // stopped before it started
			}
			return err
		}
	}
	k.cfg.Log.Info("worker registered", "worker", w.Name, "queue", k.cfg.Queue, "processors", k.cfg.Size)
	k.SetSize(k.cfg.Size)

	var bg sync.WaitGroup
	bg.Go(func() { k.every(ctx, w.PingTTL/3, k.ping) })
	bg.Go(func() { k.every(ctx, w.PingTTL/2, k.reclaim) })
	ackerQuit, ackerDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(ackerDone); k.acker(ackerQuit) }()

	k.fetch(ctx) // returns when ctx ends
	bg.Wait()
	return k.stop(ackerQuit, ackerDone)
}

func (k *Consumer) stop(ackerQuit, ackerDone chan struct{}) error {
	w := k.cfg.Worker
	k.SetSize(0)
	// Jobs claimed but not started stay in the inflight list; Deregister
	// puts them back. Drain them here so no processor starts one.
	drained := 0
drain:
	for {
		select {
		case <-k.ready:
			k.held.Add(-1)
			drained++
		default:
			break drain
		}
	}
	finished := make(chan struct{})
	go func() { k.procs.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(k.cfg.StopTimeout):
		k.cfg.Log.Warn("stop: jobs still running, putting them back on the queue", "running", k.busy.Load())
		k.cancelJob()
	}
	close(ackerQuit)
	<-ackerDone
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	var err error
	for _, s := range k.c.Shards() {
		q, derr := s.Deregister(ctx, w)
		n += q
		err = errors.Join(err, derr)
	}
	k.cfg.Log.Info("worker deregistered", "worker", w.Name, "requeued", n, "unstarted", drained)
	k.cancelJob()
	return err
}

// SetSize sets the number of processors (0..MaxProcessors).
func (k *Consumer) SetSize(n int) {
	n = min(max(n, 0), MaxProcessors)
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := int(k.size.Load())
	for ; cur < n; cur++ {
		select {
		case <-k.shrink: // a retirement not yet taken: cancel it instead
		default:
			k.procs.Go(k.process)
		}
	}
	for ; cur > n; cur-- {
		k.shrink <- struct{}{}
	}
	k.size.Store(int64(n))
	k.signalFreed() // more processors: room to claim
}

func (k *Consumer) process() {
	for {
		select {
		case <-k.shrink:
			return
		default:
		}
		select {
		case <-k.shrink:
			return
		case j := <-k.ready:
			k.busy.Add(1)
			err := k.run(j)
			k.busy.Add(-1)
			k.done <- result{j, err}
			k.held.Add(-1)
			k.signalFreed()
		}
	}
}

func (k *Consumer) run(j Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v", r))
		}
	}()
	return k.cfg.Handler(k.jobCtx, j)
}

func (k *Consumer) signalFreed() {
	select {
	case k.freed <- struct{}{}:
	default:
	}
}

// fetch claims whenever there is room: in batches while the queue has jobs,
// with one blocking claim when it is empty.
func (k *Consumer) fetch(ctx context.Context) {
	shards := k.c.Shards()
	// idle is how long one blocking claim waits on an empty shard: with
	// several shards, briefly, so that a job arriving on another one is
	// not left waiting for IdleWait.
	idle := k.cfg.IdleWait
	if len(shards) > 1 {
		idle = 50 * time.Millisecond
	}
	w, q := k.cfg.Worker, k.cfg.Queue
	retry := newRetryDelay()
	lastCheck := time.Now()
	for ctx.Err() == nil {
		room := int(k.size.Load()) + k.cfg.Prefetch - int(k.held.Load())
		if k.size.Load() == 0 || room <= 0 {
			select {
			case <-k.freed:
			case <-ctx.Done():
			}
			continue
		}
		if k.suspect.Load() || time.Since(lastCheck) > w.PingTTL {
			if err := k.requeueOrphans(ctx); err != nil {
				if ctx.Err() == nil {
					k.cfg.Log.Warn("orphan check failed; retrying", "err", err)
					retry.Wait(ctx)
				}
				continue
			}
			lastCheck = time.Now()
		}
		jobs, err := k.claim(ctx, min(room, k.cfg.Batch))
		if err == nil && len(jobs) == 0 && k.held.Load() == 0 {
			var j Job
			var ok bool
			j, ok, err = shards[k.next%len(shards)].ClaimWait(ctx, w, q, idle)
			k.next++
			if ok {
				jobs = append(jobs, j)
			}
		} else if err == nil && len(jobs) == 0 {
			// Others are still running: wait for one to finish or a moment.
			select {
			case <-k.freed:
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		if err != nil {
			k.suspect.Store(true) // Redis may have moved jobs before the error
			if ctx.Err() == nil {
				k.cfg.Log.Warn("claim failed; retrying", "err", err)
				retry.Wait(ctx)
			}
			continue
		}
		retry.Reset()
		k.owned.add(jobs...)
		k.held.Add(int64(len(jobs)))
		for _, j := range jobs {
			if j.Attempts > 1 {
				k.Counters.Redelivered.Add(1)
			}
			k.ready <- j
		}
	}
}

// claim takes up to n jobs from the first shard, from k.next on, that has
// any, and moves k.next past it: under a backlog every shard gets one
// claim per round, so none is starved however deep the others are.
func (k *Consumer) claim(ctx context.Context, n int) ([]Job, error) {
	shards := k.c.Shards()
	for i := range shards {
		s := shards[(k.next+i)%len(shards)]
		jobs, err := s.Claim(ctx, k.cfg.Worker, k.cfg.Queue, n)
		if err != nil || len(jobs) > 0 {
			k.next += i + 1
			return jobs, err
		}
	}
	return nil, nil
}

// acker acknowledges finished jobs in batches; failures are retried or
// failed one by one. It runs until quit, then settles what is waiting,
// retrying a batch while Redis is down (the jobs stay in the inflight list
// meanwhile). done is never closed: a job that outlives a stop's timeout
// finishes into the buffer and is put back by Deregister instead.
func (k *Consumer) acker(quit chan struct{}) {
	var batch []Job
	for {
		var r result
		select {
		case r = <-k.done:
		case <-quit:
			for {
				select {
				case r := <-k.done:
					batch = k.settle(batch, r)
				default:
					k.flush(batch)
					return
				}
			}
		}
		batch = k.settle(batch[:0], r)
	more:
		for len(batch) < 512 {
			select {
			case r := <-k.done:
				batch = k.settle(batch, r)
			default:
				break more
			}
		}
		k.flush(batch)
	}
}

func (k *Consumer) settle(batch []Job, r result) []Job {
	if r.err == nil {
		return append(batch, r.job)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, j := k.cfg.Worker, r.job
	var err error
	if IsPermanent(r.err) || j.Attempts > k.cfg.Retries {
		err = k.shard(j).Fail(ctx, w, j, exceptionName(r.err), r.err)
		k.Counters.Failed.Add(1)
		k.cfg.Log.Warn("job failed for good", "id", j.ID, "attempts", j.Attempts, "err", r.err)
	} else {
		d := k.cfg.Backoff(j.Attempts)
		err = k.shard(j).Retry(ctx, w, j, time.Now().Add(d), r.err)
		k.Counters.Retried.Add(1)
		k.cfg.Log.Info("job will be retried", "id", j.ID, "attempt", j.Attempts, "in", d.Round(time.Millisecond), "err", r.err)
	}
	k.owned.remove(j)
	if err != nil {
		// The job stays in the inflight list; the orphan check puts it back.
		k.suspect.Store(true)
		k.cfg.Log.Error("record job failure", "id", j.ID, "err", err)
	}
	return batch
}

func exceptionName(err error) string {
	if IsPermanent(err) {
		return "PermanentError"
	}
	return "Error"
}

func (k *Consumer) shard(j Job) *Client { return k.c.Shards()[j.Shard] }

func (k *Consumer) flush(batch []Job) {
	retry := newRetryDelay()
	for tries := 0; len(batch) > 0; tries++ {
		var err error
		batch, err = k.ackShards(batch)
		if err == nil {
			return
		}
		if tries >= 30 {
			k.owned.remove(batch...)
			k.suspect.Store(true) // the orphan check puts them back: they will run again
			k.cfg.Log.Error("giving up acking; the jobs will run again", "jobs", len(batch), "err", err)
			return
		}
		k.cfg.Log.Warn("ack failed; retrying", "jobs", len(batch), "err", err)
		retry.Wait(context.Background())
	}
}

// ackShards acknowledges batch shard by shard and returns the jobs whose
// shard could not be reached, so a retry does not ack the others twice.
func (k *Consumer) ackShards(batch []Job) ([]Job, error) {
	byShard := map[int][]Job{}
	for _, j := range batch {
		byShard[j.Shard] = append(byShard[j.Shard], j)
	}
	var left []Job
	var errs error
	for i, jobs := range byShard {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		late, err := k.c.Shards()[i].Ack(ctx, k.cfg.Worker, jobs)
		cancel()
		if err != nil {
			left = append(left, jobs...)
			errs = errors.Join(errs, err)
			continue
		}
		k.owned.remove(jobs...)
		k.Counters.Processed.Add(int64(len(jobs)))
		k.Counters.LateAcks.Add(int64(late))
	}
	return left, errs
}

// requeueOrphans puts back jobs in our inflight lists that we do not hold
// (see orphans.go). Called only from fetch, between claims.
func (k *Consumer) requeueOrphans(ctx context.Context) error {
	k.suspect.Store(false)
	n := 0
	for _, s := range k.c.Shards() {
		q, err := s.RequeueOrphans(ctx, k.cfg.Worker, k.cfg.Queue, k.owned.snapshot())
		n += q
		if err != nil {
			k.suspect.Store(true)
			return err
		}
	}
	if n > 0 {
		k.Counters.Reclaimed.Add(int64(n))
		k.cfg.Log.Warn("put back orphaned jobs from our own inflight list", "requeued", n)
	}
	return nil
}

func (k *Consumer) ping(ctx context.Context) {
	for _, s := range k.c.Shards() {
		if err := s.Ping(ctx, k.cfg.Worker); err != nil && ctx.Err() == nil {
			k.cfg.Log.Warn("ping failed", "namespace", s.Keys().Prefix(), "err", err)
		}
	}
}

func (k *Consumer) reclaim(ctx context.Context) {
	var r Reclaimed
	for _, s := range k.c.Shards() {
		one, err := s.Reclaim(ctx, k.cfg.MaxDeliveries, k.cfg.Worker.Queues)
		if err != nil {
			if ctx.Err() == nil {
				k.cfg.Log.Warn("reclaim failed", "namespace", s.Keys().Prefix(), "err", err)
			}
			continue
		}
		r.Workers += one.Workers
		r.Requeued += one.Requeued
		r.Failed += one.Failed
	}
	if r.Workers > 0 {
		k.Counters.Reclaimed.Add(int64(r.Requeued))
		k.cfg.Log.Warn("reclaimed jobs of dead workers", "workers", r.Workers, "requeued", r.Requeued, "poison_failed", r.Failed)
	}
}

func (k *Consumer) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(max(d, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// newRetryDelay is the wait between attempts against a Redis that is
// down: 50ms growing to 1s.
func newRetryDelay() *backoff.Retry {
	return backoff.NewRetry(backoff.Policy{Base: 50 * time.Millisecond, Max: time.Second})
}
