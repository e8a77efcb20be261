// Package fireforget answers 202 at once and then runs the job in the web
// process, ignoring its result: the talk's "parallel (thread-ish)" strategy,
// what `sendEmail(); res.end()` without a callback does in Node.
//
// Why it is better: the client's answer no longer waits for the mail server.
//
// Why it is still a bad idea: nothing is captured. The job lives only in the
// web process's memory, so a crash or restart loses every job in flight, and
// no one can ask what happened to a job (GET /jobs/{id} is 404: it cannot
// know). Failures are only logged and counted. Under --loop node ignoring a
// callback moves no CPU off the loop: a cpu job still runs on the loop after
// the answer and blocks the next clients, and every send still costs the
// loop nodemailer's CPU (building the message, driving SMTP), so
// fire-and-forget still costs your loop: it accepts no faster than the loop
// can also send what it accepted.
//
// What the harness shows: fast 202s, lost jobs on web-crash, loop lag under
// the cpu scenario as high as foreground's.
package fireforget

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/strategies"
	"github.com/prometheus/client_golang/prometheus"
)

// FireForget is the strategy; build it with New.
type FireForget struct {
	mailer *mailer.Mailer
	log    *slog.Logger
	jobs   *prometheus.CounterVec
}

// Not a strategies.Tracker: nothing on the web side remembers a job.
var _ strategies.Strategy = (*FireForget)(nil)

// New builds the strategy; cfg.SMTPAddr is required.
func New(cfg strategies.Config) (strategies.Strategy, error) {
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, MaxConns: cfg.Concurrency})
	if err != nil {
		return nil, fmt.Errorf("fireforget: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	f := &FireForget{
		mailer: m,
		log:    log,
	}
	if f.jobs, err = strategies.PerformedCounter("fireforget", cfg.Metrics); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FireForget) Name() string { return "fireforget" }

// Submit answers first, then runs the job.
func (f *FireForget) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	reply(strategies.Outcome{Status: strategies.StatusAccepted})
	if j.Kind == job.KindCPU {
		job.Burn(j.Cost()) // still on the loop: the answer went out, the CPU stayed
		f.jobs.WithLabelValues("ok").Inc()
		return
	}
	eventloop.Charge(rt, eventloop.CostMailSend) // after the answer, still on the loop
	rt.IO(func() error { return f.mailer.Send(context.Background(), j) }, func(err error) {
		if err != nil {
			// The only trace a failure leaves: nobody is waiting for it.
			f.log.Warn("fire-and-forget job failed", "job", j.ID, "err", err)
			f.jobs.WithLabelValues("failed").Inc()
			return
		}
		f.jobs.WithLabelValues("ok").Inc()
	})
}

// Close closes the mailer's connections. Jobs still running are abandoned,
// as they would be by a crash.
func (f *FireForget) Close(context.Context) error { return f.mailer.Close() }
