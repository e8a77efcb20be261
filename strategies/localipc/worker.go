package localipc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/offload/offload/internal/ipc"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/strategies"
)

// statsEvery is how often the worker reports its counters.
const statsEvery = 200 * time.Millisecond

// Worker registers the worker's flags on fs and returns what `offload work
// --strategy localipc` runs: the email worker child of the leader.
func Worker(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.WorkConfig) error {
	var f memqueue.Flags
	f.Register(fs)
	var socket string
	registerSocket(fs, &socket)
	return func(ctx context.Context, cfg strategies.WorkConfig) error { return work(ctx, cfg, f, socket) }
}

func work(ctx context.Context, cfg strategies.WorkConfig, f memqueue.Flags, socket string) error {
	if socket == "" {
		return errors.New("localipc worker: --ipc-socket is required: the leader (`offload run --strategy localipc`) starts this worker")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, MaxConns: f.Concurrency}) // one connection per sender
	if err != nil {
		return fmt.Errorf("localipc worker: %w", err)
	}
	defer m.Close()
	// State changes go out through one writer goroutine; the channel is
	// large, and if it ever fills a report is dropped rather than block
	// the queue (the counters still flow).
	out := make(chan any, 1<<16)
	qcfg := f.Config(memqueue.Perform(m))
	qcfg.Logger = log
	qcfg.OnChange = func(s memqueue.State) {
		select {
		case out <- message{Type: "state", State: &s}:
		default:
		}
	}
	q, err := memqueue.New(qcfg)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := hello(dctx, socket, roleWorker)
	cancel()
	if err != nil {
		return fmt.Errorf("localipc worker: %w", err)
	}
	defer conn.Close()
	if cfg.HTTPAddr != "" {
		if err := memqueue.Serve(ctx, cfg.HTTPAddr, "localipc", q, log); err != nil {
			return err
		}
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(ctx) }()
	wdone := make(chan error, 1)
	go func() { wdone <- write(ctx, conn, out, q) }()
	log.Info("worker ready", "rate", f.Rate, "concurrency", f.Concurrency, "max_attempts", f.MaxAttempts)
	go func() { <-ctx.Done(); conn.Close() }() // Recv has no other way out
	err = receive(conn, q, out, log)
	if ctx.Err() != nil {
		err = nil
	}
	stop()
	conn.Close()
	return errors.Join(err, <-wdone, <-qdone)
}

// receive pushes every relayed job onto q until the leader goes away.
func receive(conn *ipc.Conn, q *memqueue.Queue, out chan<- any, log *slog.Logger) error {
	for {
		var m message
		if err := conn.Recv(&m); err != nil {
			return fmt.Errorf("localipc worker: leader connection: %w", err)
		}
		if m.Type != "job" || m.Job == nil {
			continue
		}
		j := *m.Job
		if err := j.Validate(); err != nil || j.ID == "" {
			log.Warn("dropping invalid job", "job", j.ID, "err", err)
			continue
		}
		if err := q.Push(j); err != nil {
			log.Warn("dropping job", "job", j.ID, "err", err)
			st := memqueue.State{ID: j.ID, Status: memqueue.StatusFailed, Error: err.Error(), Updated: time.Now()}
			select {
			case out <- message{Type: "state", State: &st}:
			default:
			}
		}
	}
}

// write sends state reports in batches and the counters every statsEvery.
func write(ctx context.Context, conn *ipc.Conn, out <-chan any, q *memqueue.Queue) error {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	batch := make([]any, 0, 256)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			batch = append(batch, message{Type: "stats", Stats: &relayed{Worker: q.Stats()}})
		case m := <-out:
			batch = append(batch, m)
		}
		for len(batch) < cap(batch) {
			select {
			case m := <-out:
				batch = append(batch, m)
				continue
			default:
			}
			break
		}
		if err := conn.SendBatch(batch, sendTimeout); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("localipc worker: report to leader: %w", err)
		}
	}
}
