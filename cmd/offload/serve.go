package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/httpapi"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
)

// sendCapUsage is serve's --concurrency: it matters to the strategies that
// send mail from the web process.
const sendCapUsage = "foreground, fireforget: most mail sends in flight, over as many reused SMTP connections (0: no cap, a connection per mail, as Node's nodemailer without a pool)"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("serve", stderr)
	var sf strategyFlags
	sf.register(fs, "127.0.0.1:2525")
	var wf webFlags
	wf.register(fs)
	concurrency := fs.Int("concurrency", 0, sendCapUsage)
	// The strategy's own flags must exist before the parse (and for
	// --help): take its name from the arguments or the environment first.
	var newStrategy func(strategies.Config) (strategies.Strategy, error)
	if e, err := sf.preselect(args); err == nil {
		newStrategy = e.WebConstructor(fs)
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := sf.validate(); err != nil {
		return err
	}
	if err := wf.validate(); err != nil {
		return err
	}
	if *concurrency < 0 {
		return cli.Usagef("--concurrency %d: must not be negative (0: no cap)", *concurrency)
	}
	log := newLogger(stderr, "web")
	model, err := eventloop.New(eventloop.Config{Name: wf.loop, Pool: wf.pool, Threads: wf.threads})
	if err != nil {
		return cli.Usagef("--loop: %v", err)
	}
	defer model.Close()

	mon := newMonitor(model)
	mon.Start(ctx)
	defer mon.Stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := sf.config()
	cfg.Logger, cfg.Metrics, cfg.Concurrency = log, reg, *concurrency
	strat, err := newStrategy(cfg)
	if err != nil {
		// Unreachable broker, bad endpoint: a configuration problem, exit 2.
		return cli.Usage(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := strat.Close(cctx); err != nil {
			log.Error("close strategy", "err", err)
		}
	}()

	api, err := httpapi.New(httpapi.Config{Strategy: strat, Model: model, Monitor: mon, Registry: reg, Logger: log, BodyTimeout: wf.bodyTimeout})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", wf.addr)
	if err != nil {
		return cli.Usagef("--addr %s: %v", wf.addr, err)
	}
	srv := httpapi.NewHTTPServer(wf.addr, api)
	log.Info("listening", "url", "http://"+ln.Addr().String(), "strategy", sf.strategy, "loop", model.Name())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// newMonitor probes the model: on the node loop's own timer phase when it
// has one, otherwise by posting probes to it.
func newMonitor(model eventloop.Model) *lagmonitor.Monitor {
	if l, ok := model.(*eventloop.Loop); ok {
		return lagmonitor.New(lagmonitor.Config{Every: l.Every})
	}
	return lagmonitor.New(lagmonitor.Config{Post: model.Post})
}

func newLogger(w io.Writer, role string) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("role", role)
}
