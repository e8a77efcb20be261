package eventbus

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/workerhttp"
	"github.com/offload/offload/strategies"
)

// Handlers are the handler names `offload work --handler` accepts.
var Handlers = []string{"email", "audit"}

// Worker registers the consumer's flags on fs (the catalog entry's Worker hook)
// and returns the function `offload work --strategy eventbus` runs.
func Worker(fs *flag.FlagSet) func(ctx context.Context, wc strategies.WorkConfig) error {
	var cfg ConsumerConfig
	var handler string
	registerPartitions(fs, &cfg.Partitions)
	fs.StringVar(&handler, "handler", "email", "what this group does with each event: email (deliver the mail) or audit (append it to a Redis list)")
	fs.StringVar(&cfg.Group, "group", "", "consumer group: one per handler, each sees every event (default: the handler's name)")
	fs.StringVar(&cfg.Consumer, "consumer", "", "this consumer's name in its group (default host-pid)")
	fs.DurationVar(&cfg.ClaimIdle, "claim-idle", 30*time.Second, "take over an entry pending this long (a dead consumer's, or a failed one: the retry delay); must exceed the slowest handler run")
	fs.IntVar(&cfg.MaxDeliveries, "max-deliveries", 5, "after this many deliveries without success an event goes to the dead-letter stream")
	fs.IntVar(&cfg.MaxAttempts, "max-attempts", 5, "handler runs per delivery while it fails with a temporary error (SMTP 4xx, network), retried in-process with backoff; the entry stays pending (1: no in-process retry)")
	fs.DurationVar(&cfg.Backoff, "backoff", 200*time.Millisecond, "wait before the first in-process retry, doubled for each next one with jitter (at most 5s and claim-idle/2)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "events handled at once by this consumer (audit: always 1, to keep order)")
	fs.DurationVar(&cfg.Retain, "retain", 0, "trim events older than this (0: keep), never ones a group has not acknowledged")
	fs.Int64Var(&cfg.RetainCount, "retain-count", 0, "trim all but the newest N events per partition (0: keep), never unacknowledged ones")
	fs.StringVar(&cfg.Start, "group-start", "0", "where a group that does not exist yet starts: 0 (all retained history) or $ (new events only)")
	return func(ctx context.Context, wc strategies.WorkConfig) error {
		cfg.Group = cmpOr(cfg.Group, handler)
		cfg.Logger = wc.Logger
		if err := (cfg.withDefaults()).validate(); err != nil {
			return cli.Usagef("eventbus worker: %v", err)
		}
		rdb, err := Connect(ctx, wc.RedisURL)
		if err != nil {
			return cli.Usage(err)
		}
		defer rdb.Close()
		if rec, err := RecordedPartitions(ctx, rdb); err == nil && rec != 0 && rec != max(cfg.Partitions, 1) {
			// This consumer would read streams the web side no longer
			// writes (or miss some it does).
			cmpOr(wc.Logger, slog.Default()).Warn("eventbus: --partitions differs from the web side's", "consumer", max(cfg.Partitions, 1), "web", rec)
		}
		h, ordered, closeHandler, err := newHandler(handler, cfg.Group, cfg.withDefaults().Concurrency, wc, rdb)
		if err != nil {
			return err
		}
		defer closeHandler()
		c, err := NewConsumer(rdb, cfg, h, ordered)
		if err != nil {
			return cli.Usage(err)
		}
		if wc.HTTPAddr != "" {
			stop, err := serveHTTP(ctx, wc.HTTPAddr, rdb, c)
			if err != nil {
				return err
			}
			defer stop()
		}
		return c.Run(ctx)
	}
}

func newHandler(name, group string, concurrency int, wc strategies.WorkConfig, rdb redis.UniversalClient) (Handler, bool, func(), error) {
	switch name {
	case "email":
		m, err := mailer.New(mailer.Config{Addr: wc.SMTPAddr, MaxConns: concurrency}) // one connection per event in flight
		if err != nil {
			return nil, false, nil, cli.Usagef("eventbus email handler: %v", err)
		}
		return Email{Mailer: m}, false, func() { _ = m.Close() }, nil
	case "audit":
		return Audit{RDB: rdb, Key: AuditLog(group)}, true, func() {}, nil
	}
	return nil, false, nil, cli.Usagef("--handler %q: use one of %v", name, Handlers)
}

// serveHTTP serves the groups' lag and this consumer's counters (retries
// among them) on /metrics, with /healthz and /debug/lag, so a consumer host
// can be watched like the web server.
func serveHTTP(ctx context.Context, addr string, rdb redis.UniversalClient, c *Consumer) (func(), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(rdb, c.keys), c.Collector())
	_, stop, err := workerhttp.Serve(ctx, workerhttp.Config{Addr: addr, Strategy: "eventbus", Registry: reg, Logger: c.log,
		Health: func() map[string]any { return map[string]any{"group": c.cfg.Group, "consumer": c.cfg.Consumer} }})
	if err != nil {
		return nil, cli.Usage(err)
	}
	return stop, nil
}
