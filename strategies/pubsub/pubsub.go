// Package pubsub publishes each job to worker processes that keep it in
// memory: the talk's "remote messages (*MQ-ish)" strategy. The web side only
// passes a message on; every worker runs the same in-memory queue, throttle
// and retry as localipc's (internal/memqueue), so the two differ only in how
// a job travels. Two transports:
//
// --transport redis: the web server PUBLISHes the job on a Redis channel and
// every subscribed `offload work --strategy pubsub` pushes it onto its queue.
//
// Why it is better: workers can run on any machine; Redis drivers buffer
// commands across short connection errors; the web process never touches
// SMTP. Why it is still a bad idea: PUBLISH is fire-and-forget. With no
// subscriber the job is gone — the reply (receiver count, exported as
// offload_pubsub_receivers and offload_pubsub_unheard_total and returned as
// "receivers" in the 202) shows it at the source. With two subscribers every
// job is sent twice: pub/sub fans out, it does not share load. A subscriber
// that reconnects misses what was published meanwhile, and a worker that
// dies loses its whole in-memory queue.
//
// --transport zmq: the web server binds a ZeroMQ ROUTER (loopback by
// default, --zmq tcp://127.0.0.1:5557) and each worker connects a DEALER.
// The web side keeps a bounded queue (its "high-water mark", --hwm) and hands
// each job to exactly one worker that has announced free credit; workers ack
// each finished job and heartbeat every 250ms. A worker silent for 1.5s is
// declared dead and its unacked jobs go back to the front of the queue.
//
// Why ROUTER/DEALER and not PUSH/PULL: github.com/go-zeromq/zmq4 v0.17.0
// (pure Go, the one version the module proxy serves) is not libzmq. Its PUSH
// sends every message to every connected PULL (no load sharing), has no
// high-water mark or send queue, and after a peer dies its Send returns nil
// while dropping the message. Plain PUSH would have turned "share the load,
// wait at the sender" into "duplicate everything, lose silently". With
// credit, acks and re-queueing, a worker restart loses nothing and may
// duplicate a job whose ack died with the worker (at-least-once). Why it is
// still a bad idea: the waiting queue lives in the web process's memory, so
// a web crash loses every job not yet acked by a worker; a full queue (no
// worker for a while) answers 503.
package pubsub

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/strategies"
)

// Channel is the Redis channel jobs are published on.
const Channel = "offload:pubsub:jobs"

// WebFlags registers the web side's flags on fs and returns its
// constructor: the catalog entry's WebFlags func.
func WebFlags(fs *flag.FlagSet) func(strategies.Config) (strategies.Strategy, error) {
	var b BrokerConfig
	fs.IntVar(&b.HWM, "hwm", 10_000, "pubsub/zmq: jobs waiting for a worker before POST /jobs answers 503 (the high-water mark)")
	fs.DurationVar(&b.Expiry, "worker-expiry", 6*heartbeat, "pubsub/zmq: a worker silent this long is dead and its jobs are lost")
	return func(cfg strategies.Config) (strategies.Strategy, error) {
		if b.HWM < 1 || b.Expiry <= 0 {
			return nil, fmt.Errorf("pubsub: --hwm %d and --worker-expiry %v must be positive", b.HWM, b.Expiry)
		}
		return NewWith(cfg, b)
	}
}

// New is NewWith the default broker configuration.
func New(cfg strategies.Config) (strategies.Strategy, error) { return NewWith(cfg, BrokerConfig{}) }

// NewWith builds the web side for cfg.Transport ("redis" when empty); b
// configures the zmq broker and is unused over redis.
func NewWith(cfg strategies.Config, b BrokerConfig) (strategies.Strategy, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch cfg.Transport {
	case "", "redis":
		return newPublisher(cfg)
	case "zmq":
		return newBroker(cfg, b)
	default:
		return nil, fmt.Errorf("pubsub: transport %q: use redis or zmq", cfg.Transport)
	}
}

// Worker registers the worker's flags on fs and returns what `offload work
// --strategy pubsub` runs.
func Worker(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.WorkConfig) error {
	var f memqueue.Flags
	f.Register(fs)
	credit := fs.Int("credit", 0, "pubsub/zmq: jobs this worker asks for ahead (0: twice --concurrency)")
	return func(ctx context.Context, cfg strategies.WorkConfig) error {
		if *credit == 0 {
			*credit = 2 * f.Concurrency
		}
		return Work(ctx, cfg, f, *credit)
	}
}

// Work runs one subscriber until ctx ends.
func Work(ctx context.Context, cfg strategies.WorkConfig, f memqueue.Flags, credit int) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Transport == "zmq" && credit < 1 {
		return fmt.Errorf("pubsub: credit %d: must be at least 1", credit)
	}
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr, MaxConns: f.Concurrency}) // one connection per sender
	if err != nil {
		return fmt.Errorf("pubsub worker: %w", err)
	}
	defer m.Close()
	qcfg := f.Config(memqueue.Perform(m))
	qcfg.Logger = log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var acks chan memqueue.State
	if cfg.Transport == "zmq" {
		// Finished jobs are acked to the web side; the channel is bounded
		// by the credit, so OnChange never blocks.
		acks = make(chan memqueue.State, credit+16)
		qcfg.OnChange = func(s memqueue.State) {
			if s.Status == memqueue.StatusDone || s.Status == memqueue.StatusFailed {
				acks <- s
			}
		}
	}
	q, err := memqueue.New(qcfg)
	if err != nil {
		return err
	}
	if cfg.HTTPAddr != "" {
		if err := memqueue.Serve(ctx, cfg.HTTPAddr, "pubsub", q, log); err != nil {
			return err
		}
	}
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(ctx) }()
	switch cfg.Transport {
	case "", "redis":
		err = subscribe(ctx, cfg.RedisURL, q, log)
	case "zmq":
		err = dealer(ctx, cfg.ZMQEndpoint, q, credit, acks, log)
	default:
		err = fmt.Errorf("pubsub: transport %q: use redis or zmq", cfg.Transport)
	}
	cancel()
	return errors.Join(err, <-qdone)
}
