// Package ex06 is exercise 6's skeleton (docs/workshop/06-retry-with-backoff.md):
// a worker's Perform that tries a mail once. Make it try again after
// temporary failures (the mail server's 451, a refused connection), waiting
// Base, then 2×Base, 4×Base ... each wait capped at Max, for at most
// Attempts tries in all, and never longer than ctx allows. A permanent
// failure (550: no such user) must not be retried: it will not get better.
//
// internal/memqueue is the worker localipc and pubsub really use; its
// backoff is the same idea with jitter. `make exercise N=6` checks yours by
// sending mail through a real mail server during a 700 ms outage.
package ex06

import (
	"context"
	"time"

	"github.com/offload/offload/internal/job"
)

// Policy is how hard to try.
type Policy struct {
	Attempts int           // tries in all, the first included
	Base     time.Duration // the wait before the second try
	Max      time.Duration // no single wait is longer
}

// Worker performs mail jobs.
type Worker struct {
	// Send makes one attempt (mailer.Send in a real worker). Its error
	// says whether trying again can help: mailer.IsTemporary(err).
	Send   func(ctx context.Context, j job.Job) error
	Policy Policy
}

// Perform sends j's mail, retrying temporary failures with exponential
// backoff. It returns nil once a try succeeded, or the last error.
func (w Worker) Perform(ctx context.Context, j job.Job) error {
	// TODO(exercise 6): loop up to w.Policy.Attempts times; after a
	// temporary error wait (select on ctx.Done() and a timer), doubling the
	// wait each time up to w.Policy.Max; return at once on success, on a
	// permanent error, or when ctx is done.
	return w.Send(ctx, j)
}
