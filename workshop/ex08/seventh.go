// Package ex08 is exercise 8's skeleton (docs/workshop/08-seventh-strategy.md):
// a seventh strategy behind the same contract as the six. It compiles and
// refuses every job; make it hand jobs to a backend of your choice (a spool
// directory, Postgres with SELECT ... FOR UPDATE SKIP LOCKED, NATS
// JetStream, a Redis list of your own) and get them delivered.
//
// `make exercise N=8` runs the conformance suite every strategy passes
// (strategies/strategytest) against New, through seventh_test.go. Then add
// one entry to strategies/catalog/entries.go and run it through the harness.
//
// Guarantees: TODO — say what survives a crash of the web process, of a
// worker, of the backend.
//
// Failure modes: TODO — in the talk's spirit: why is it still a bad idea?
package ex08

import (
	"context"
	"fmt"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/strategies"
)

// Seventh is the strategy's web side.
type Seventh struct {
	cfg strategies.Config
	// TODO(exercise 8): a connection to your backend, and (if the jobs run
	// in this process) the goroutine that performs them, stopped by Close.
}

var _ strategies.Strategy = (*Seventh)(nil)

// New builds the strategy from the common config (cfg.SMTPAddr is where
// mail goes; add a field to strategies.Config if your backend needs one).
func New(cfg strategies.Config) (strategies.Strategy, error) {
	return &Seventh{cfg: cfg}, nil
}

func (s *Seventh) Name() string { return "seventh" }

// Submit is handler code: on the node loop it must not block. A network
// call to the backend (a database, a broker) goes inside rt.IO(fn, cb);
// file writes and fsync (a spool directory) go inside rt.Pool(fn, cb), as
// Node gives fs calls to libuv's thread pool. Reply in cb.
func (s *Seventh) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	// TODO(exercise 8): hand j to the backend, then reply StatusAccepted;
	// reply with an error wrapping strategies.ErrUnavailable if it is down.
	reply(strategies.Outcome{Err: fmt.Errorf("%w: the seventh strategy does not hand jobs anywhere yet (TODO in workshop/ex08/seventh.go)", strategies.ErrUnavailable)})
}

// Close releases the backend and stops background work, bounded by ctx.
func (s *Seventh) Close(ctx context.Context) error { return nil }
