package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/internal/redisconn"
	"github.com/offload/offload/strategies"
)

// publisher is the web side over Redis: one PUBLISH per job.
type publisher struct {
	rdb       redis.UniversalClient
	log       *slog.Logger
	published prometheus.Counter
	unheard   prometheus.Counter
	copies    prometheus.Counter
	receivers prometheus.Gauge
}

// Not a strategies.Tracker: nothing on the web side remembers a job.
var _ strategies.Strategy = (*publisher)(nil)

func newPublisher(cfg strategies.Config) (*publisher, error) {
	if cfg.RedisURL == "" {
		return nil, errors.New("pubsub: --redis is required with --transport redis")
	}
	rdb, err := redisconn.Open(context.Background(), redisconn.Options{URL: cfg.RedisURL})
	if err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	p := &publisher{
		rdb: rdb,
		log: cfg.Logger,
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "offload_pubsub_published_total", Help: "Jobs published on the Redis channel.",
		}),
		unheard: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "offload_pubsub_unheard_total", Help: "Jobs published while no subscriber listened: lost at the source.",
		}),
		copies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "offload_pubsub_copies_total", Help: "Copies delivered to subscribers (sum of PUBLISH replies): above published means duplicates.",
		}),
		receivers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "offload_pubsub_receivers", Help: "Subscribers that received the last published job (PUBLISH's reply).",
		}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{p.published, p.unheard, p.copies, p.receivers} {
			if err := cfg.Metrics.Register(c); err != nil {
				rdb.Close()
				return nil, fmt.Errorf("pubsub: register metrics: %w", err)
			}
		}
	}
	return p, nil
}

func (p *publisher) Name() string { return "pubsub" }

// Submit publishes j and answers with the number of subscribers that got it.
func (p *publisher) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	payload, err := json.Marshal(j)
	if err != nil {
		reply(strategies.Outcome{Err: fmt.Errorf("encode job %s: %w", j.ID, err)})
		return
	}
	var n int64
	eventloop.Charge(rt, eventloop.CostRedisCommand) // PUBLISH through ioredis
	rt.IO(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err = p.rdb.Publish(ctx, Channel, payload).Result()
		return err
	}, func(err error) {
		if err != nil {
			reply(strategies.Outcome{Err: fmt.Errorf("%w: publish job %s: %v", strategies.ErrUnavailable, j.ID, err)})
			return
		}
		p.published.Inc()
		p.copies.Add(float64(n))
		p.receivers.Set(float64(n))
		if n == 0 {
			p.unheard.Inc()
		}
		reply(strategies.Outcome{Status: strategies.StatusAccepted, Extra: map[string]any{"receivers": n}})
	})
}

// Close closes the Redis connections.
func (p *publisher) Close(context.Context) error {
	if err := p.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("pubsub: close redis: %w", err)
	}
	return nil
}

// subscribe pushes every job published on Channel onto q until ctx ends.
func subscribe(ctx context.Context, url string, q *memqueue.Queue, log *slog.Logger) error {
	if url == "" {
		return errors.New("pubsub worker: --redis is required with --transport redis")
	}
	rdb, err := redisconn.Open(ctx, redisconn.Options{URL: url})
	if err != nil {
		return fmt.Errorf("pubsub worker: %w", err)
	}
	defer rdb.Close()
	ps := rdb.Subscribe(ctx, Channel)
	defer ps.Close()
	// Only a confirmed subscription hears publishes.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = ps.Receive(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("pubsub worker: subscribe %s on %s: %w", Channel, redisconn.Redact(url), err)
	}
	log.Info("subscribed", "channel", Channel, "redis", redisconn.Redact(url))
	// ReceiveMessage blocks in a socket read that ignores ctx; closing the
	// subscription is what ends it when the worker is told to stop.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// go-redis resubscribes on the next call; what was published
			// meanwhile is gone, which is the transport's nature.
			log.Warn("subscription interrupted", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		pushPayload(q, []byte(msg.Payload), log)
	}
}

// pushPayload validates a job from the wire: a broker can be written to by
// anyone.
func pushPayload(q *memqueue.Queue, payload []byte, log *slog.Logger) bool {
	var j job.Job
	if err := json.Unmarshal(payload, &j); err != nil {
		log.Warn("dropping undecodable message", "err", err)
		return false
	}
	if err := j.Validate(); err != nil || j.ID == "" {
		log.Warn("dropping invalid job", "job", j.ID, "err", err)
		return false
	}
	if err := q.Push(j); err != nil {
		log.Warn("dropping job", "job", j.ID, "err", err)
		return false
	}
	return true
}
