package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/mailsink"
)

// outageFlag collects --outage START+DURATION windows, relative to start-up.
type outageFlag []window

type window struct{ start, length time.Duration }

func (o *outageFlag) String() string { return fmt.Sprint(*o) }

func (o *outageFlag) Set(s string) error {
	a, b, ok := strings.Cut(s, "+")
	if !ok {
		return fmt.Errorf("want START+DURATION, e.g. 10s+5s")
	}
	start, err := time.ParseDuration(a)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	length, err := time.ParseDuration(b)
	if err != nil || length <= 0 {
		return fmt.Errorf("duration %q: want a positive duration", b)
	}
	*o = append(*o, window{start, length})
	return nil
}

func runSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sink", stderr)
	addr := fs.String("addr", "127.0.0.1:2525", "SMTP listen address")
	httpAddr := fs.String("http", "127.0.0.1:2526", "JSON stats listen address (empty: none)")
	var pf providerFlags
	pf.register(fs, "", mailsink.DefaultLatency)
	failRate := fs.Float64("fail-rate", 0, "fraction of messages answered 451 (0..1)")
	seed := fs.Uint64("seed", 0, "seed for the failure and latency draws (0: random)")
	var outages outageFlag
	fs.Var(&outages, "outage", "answer 451 to everything during START+DURATION after start-up (repeatable)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := newLogger(stderr, "sink")
	cfg, err := pf.config()
	if err != nil {
		return err
	}
	cfg.Addr, cfg.FailRate, cfg.Seed, cfg.Logger = *addr, *failRate, *seed, log
	sink, err := mailsink.Start(cfg)
	if err != nil {
		return cli.Usage(err)
	}
	defer sink.Close()
	log.Info("smtp listening", "addr", sink.Addr(), "latency", cfg.Latency().String(),
		"max_conns", cfg.MaxConns, "rate_limit", cfg.RateLimit, "fail_rate", *failRate)
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return cli.Usagef("--http %s: %v", *httpAddr, err)
		}
		srv := &http.Server{Handler: sink.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("stats server", "err", err)
			}
		}()
		defer srv.Close()
		log.Info("stats listening", "url", "http://"+ln.Addr().String()+"/stats",
			"rate_limit_control", "POST http://"+ln.Addr().String()+"/rate-limit?per_second=R")
	}
	for _, w := range outages {
		time.AfterFunc(w.start, func() { sink.Outage(w.length) })
	}
	<-ctx.Done()
	return nil
}

var _ flag.Value = (*outageFlag)(nil)
