package resque

import (
	"context"
	"log/slog"
	"time"
)

// Scheduler moves due delayed jobs to their queues while it holds
// resque-scheduler's leader lock, so any number of schedulers (ours or
// node-resque's) can run and exactly one moves jobs at a time.
type Scheduler struct {
	c     *Client
	name  string
	every time.Duration
	lock  time.Duration
	log   *slog.Logger
	// Moved counts jobs this scheduler moved.
	Moved func(n int)
}

// NewScheduler polls every d (default 200ms) under name.
func NewScheduler(c *Client, name string, d time.Duration, log *slog.Logger) *Scheduler {
	if d <= 0 {
		d = 200 * time.Millisecond
	}
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{c: c, name: name, every: d, lock: max(10*d, 3*time.Second), log: log}
}

// Run polls until ctx ends, then releases the lock.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	leader, failing := false, false
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.c.ReleaseLeader(rctx, s.name)
			cancel()
			return
		case <-t.C:
		}
		ok, err := s.c.AcquireLeader(ctx, s.name, s.lock)
		if err != nil {
			// Said once per outage, not once per tick; the ticker paces
			// the retries. Without the lock no one moves due jobs, so
			// this scheduler stops counting itself the leader.
			if !failing && ctx.Err() == nil {
				s.log.Warn("scheduler cannot reach its leader lock: delayed jobs wait until Redis answers", "name", s.name, "err", err)
			}
			failing, leader = true, false
			continue
		}
		if failing {
			failing = false
			s.log.Info("scheduler reached its leader lock again", "name", s.name)
		}
		if ok != leader {
			leader = ok
			s.log.Info("scheduler leadership", "leader", ok, "name", s.name)
		}
		if !ok {
			continue
		}
		n, err := s.c.MoveDue(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("move due jobs", "err", err)
		}
		if n > 0 && s.Moved != nil {
			s.Moved(n)
		}
	}
}
