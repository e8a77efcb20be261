package memqueue

import (
	"context"
	"flag"
	"strconv"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
)

// Flags are the worker knobs a command line sets. Register them once per
// FlagSet; a supervisor passes them on to its worker child with Args.
type Flags struct {
	Rate        float64
	Concurrency int
	MaxAttempts int
	Backoff     time.Duration
	Capacity    int
}

// Register adds --rate, --concurrency, --max-attempts, --backoff and
// --capacity to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Float64Var(&f.Rate, "rate", 0, "worker throttle: jobs started per second (0: no throttle)")
	fs.IntVar(&f.Concurrency, "concurrency", 4, "worker: jobs performed at once")
	fs.IntVar(&f.MaxAttempts, "max-attempts", 5, "worker: attempts per job before it counts as failed")
	fs.DurationVar(&f.Backoff, "backoff", 100*time.Millisecond, "worker: wait before the first retry, doubled for each next one")
	fs.IntVar(&f.Capacity, "capacity", 100_000, "worker: jobs held in memory at most")
}

// Args renders the flags for a child's command line.
func (f *Flags) Args() []string {
	return []string{
		"--rate", strconv.FormatFloat(f.Rate, 'g', -1, 64),
		"--concurrency", strconv.Itoa(f.Concurrency),
		"--max-attempts", strconv.Itoa(f.MaxAttempts),
		"--backoff", f.Backoff.String(),
		"--capacity", strconv.Itoa(f.Capacity),
	}
}

// Config returns a Config with these knobs around perform.
func (f *Flags) Config(perform func(context.Context, job.Job) error) Config {
	return Config{
		Perform:     perform,
		Retryable:   mailer.IsTemporary,
		Rate:        f.Rate,
		Concurrency: f.Concurrency,
		MaxAttempts: f.MaxAttempts,
		Backoff:     f.Backoff,
		MaxBackoff:  max(5*time.Second, f.Backoff),
		Capacity:    f.Capacity,
	}
}

// Perform is what a worker does with a job: burn its CPU or send its mail.
func Perform(m *mailer.Mailer) func(context.Context, job.Job) error {
	return func(ctx context.Context, j job.Job) error {
		if j.Kind == job.KindCPU {
			job.Burn(j.Cost())
			return nil
		}
		return m.Send(ctx, j)
	}
}
