// Package foreground performs the job inside the request and answers when
// it is done: the talk's first strategy, "in-line".
//
// Guarantees: the client learns the outcome. 200 means the mail server
// accepted the mail; 502 means it did not, and the client may retry. Nothing
// is ever lost silently, because nothing is ever handed over.
//
// Failure modes: every request costs the whole job's latency (the mail
// provider's delay); a slow provider slows every client. Under --loop node
// the SMTP exchange is network I/O, as in Node: sends in flight are not
// capped, but each costs the loop nodemailer's CPU, so the loop's CPU, not a
// thread count, bounds how many mails a second it can send. A cpu job runs
// on the loop itself (the talk's blockingSleep), blocking every other
// client — /healthz included — for its whole cost: a foreground mail holds
// its own answer, a cpu job holds everyone's.
//
// What the harness shows: HTTP latency equals end-to-end latency; under the
// cpu scenario, probe latency and loop lag rise by the job's cost.
package foreground

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/joblog"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/strategies"
)

// Foreground is the strategy; build it with New.
type Foreground struct {
	mailer  *mailer.Mailer
	results *joblog.Log[strategies.JobState]
	jobs    *prometheus.CounterVec
}

var (
	_ strategies.Strategy = (*Foreground)(nil)
	_ strategies.Tracker  = (*Foreground)(nil)
)

// New builds the strategy; cfg.SMTPAddr is required.
func New(cfg strategies.Config) (strategies.Strategy, error) {
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, MaxConns: cfg.Concurrency})
	if err != nil {
		return nil, fmt.Errorf("foreground: %w", err)
	}
	f := &Foreground{
		mailer:  m,
		results: strategies.NewJobLog(recentJobs),
	}
	if f.jobs, err = strategies.PerformedCounter("foreground", cfg.Metrics); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Foreground) Name() string { return "foreground" }

// Submit performs j and then replies.
func (f *Foreground) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	finish := func(err error) {
		st := strategies.JobState{ID: j.ID, Strategy: "foreground", Status: strategies.StatusDone, Attempts: 1, Updated: time.Now()}
		if err != nil {
			st.Status, st.Error = strategies.StatusFailed, err.Error()
		}
		f.results.Set(j.ID, st)
		if err != nil {
			f.jobs.WithLabelValues("failed").Inc()
			reply(strategies.Outcome{Err: fmt.Errorf("%w: %w", strategies.ErrDelivery, err)})
			return
		}
		f.jobs.WithLabelValues("ok").Inc()
		reply(strategies.Outcome{Status: strategies.StatusDone})
	}
	if j.Kind == job.KindCPU {
		job.Burn(j.Cost()) // on the handler's thread: the loop, under node
		finish(nil)
		return
	}
	eventloop.Charge(rt, eventloop.CostMailSend) // nodemailer's MIME and SMTP, on Node's thread
	rt.IO(func() error { return f.mailer.Send(context.Background(), j) }, finish)
}

// State reports the outcome of a job this process ran.
func (f *Foreground) State(_ context.Context, id string) (strategies.JobState, error) {
	st, ok := f.results.Get(id)
	if !ok {
		return strategies.JobState{}, fmt.Errorf("%w: this process has not run job %s (results are kept in memory, last %d)", strategies.ErrUnknownJob, id, recentJobs)
	}
	return st, nil
}

// Close closes the mailer's connections.
func (f *Foreground) Close(context.Context) error { return f.mailer.Close() }

// recentJobs is how many outcomes State remembers.
const recentJobs = 100_000
