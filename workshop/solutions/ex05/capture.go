// Package ex05 is the reference solution of exercise 5. Spoilers: try
// workshop/ex05 first. The workshop tests run the check against it.
//
// It keeps the last maxFailures failures in memory and answers them from
// State. What it still cannot do is the next lesson: the record dies with
// the process, and nobody retries the job.
package ex05

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/strategies"
)

// maxFailures bounds the memory a mail outage can take.
const maxFailures = 10_000

type failure struct {
	err string
	at  time.Time
}

// FireForget is fireforget with a memory of failures.
type FireForget struct {
	mailer *mailer.Mailer
	log    *slog.Logger

	mu       sync.Mutex // the loop writes, State reads off the loop (the I/O path)
	failures map[string]failure
	order    []string // oldest first, for eviction
}

var (
	_ strategies.Strategy = (*FireForget)(nil)
	_ strategies.Tracker  = (*FireForget)(nil)
)

// New builds the strategy; cfg.SMTPAddr is required.
func New(cfg strategies.Config) (strategies.Strategy, error) {
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr})
	if err != nil {
		return nil, fmt.Errorf("fireforget (exercise 5): %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &FireForget{mailer: m, log: log, failures: make(map[string]failure)}, nil
}

func (f *FireForget) Name() string { return "fireforget" }

// Submit answers first, then runs the job.
func (f *FireForget) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	reply(strategies.Outcome{Status: strategies.StatusAccepted})
	if j.Kind == job.KindCPU {
		job.Burn(j.Cost())
		return
	}
	eventloop.Charge(rt, eventloop.CostMailSend) // the send's own CPU stays on the loop
	rt.IO(func() error { return f.mailer.Send(context.Background(), j) }, func(err error) {
		if err != nil {
			f.log.Warn("fire-and-forget job failed", "job", j.ID, "err", err)
			f.recordFailure(j.ID, err)
		}
	})
}

func (f *FireForget) recordFailure(id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.failures[id]; !ok {
		f.order = append(f.order, id)
	}
	f.failures[id] = failure{err: err.Error(), at: time.Now()}
	for len(f.order) > maxFailures {
		delete(f.failures, f.order[0])
		f.order = f.order[1:]
	}
}

// State answers a recorded failure; for anything else it still cannot know.
func (f *FireForget) State(_ context.Context, id string) (strategies.JobState, error) {
	f.mu.Lock()
	fl, ok := f.failures[id]
	f.mu.Unlock()
	if !ok {
		return strategies.JobState{}, fmt.Errorf("%w: no failure recorded for job %s (this fireforget records failures only, the last %d)", strategies.ErrNotTracked, id, maxFailures)
	}
	return strategies.JobState{ID: id, Strategy: "fireforget", Status: strategies.StatusFailed, Attempts: 1, Error: fl.err, Updated: fl.at}, nil
}

// Close closes the mailer's connections.
func (f *FireForget) Close(context.Context) error { return f.mailer.Close() }
