// Package ex05 is exercise 5's skeleton (docs/workshop/05-capture-failures.md):
// a copy of strategies/fireforget for you to change. The real fireforget
// stays as it is, because losing its failures is a lesson the harness
// measures; this copy is where you answer the talk's "I guess you could
// log errors? But what would you do with that data?".
//
// As handed out it behaves like fireforget: a failed mail leaves one log
// line and a counter, and GET /jobs/{id} says it cannot know. Make it
// remember each failure and answer it from State, so a client that got 202
// can later ask what became of its job. `make exercise N=5` checks.
package ex05

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/strategies"
)

// FireForget is fireforget plus (once you are done) a memory of failures.
type FireForget struct {
	mailer *mailer.Mailer
	log    *slog.Logger
	// TODO(exercise 5): somewhere to keep failures: job id -> error and
	// when. A map needs a mutex (the loop writes it, State reads it off the loop) and a
	// bound, or a day of failures becomes an out-of-memory crash.
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
	return &FireForget{mailer: m, log: log}, nil
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

// recordFailure runs on the loop (in IO's callback) for each failed job.
func (f *FireForget) recordFailure(id string, err error) {
	// TODO(exercise 5): remember that job id failed with err.
}

// State answers GET /jobs/{id}; it runs off the loop, on the I/O path's
// goroutine for that request (a tracker may read a record over the network).
func (f *FireForget) State(_ context.Context, id string) (strategies.JobState, error) {
	// TODO(exercise 5): for a recorded failure answer
	// strategies.JobState{ID: id, Strategy: "fireforget", Status: strategies.StatusFailed, Error: ...}.
	return strategies.JobState{}, fmt.Errorf("%w: fireforget answers before the job runs and keeps no record of it", strategies.ErrNotTracked)
}

// Close closes the mailer's connections.
func (f *FireForget) Close(context.Context) error { return f.mailer.Close() }
