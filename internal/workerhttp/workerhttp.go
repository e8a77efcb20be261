// Package workerhttp is the one HTTP server every `offload work` process
// answers on --http ADDR, whatever its strategy: /healthz, /metrics and
// /debug/lag, so a worker on another machine can be watched (by people,
// Prometheus, the bench and the live page) the same way as the web server.
package workerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/offload/offload/lagmonitor"
)

// Config says what one worker serves.
type Config struct {
	Addr     string // host:port to listen on (required)
	Strategy string // named in /healthz
	// Registry holds the worker's own metrics (nil: a new one); the Go
	// runtime's and the process's are added unless already there.
	Registry *prometheus.Registry
	// Monitor watches the worker's loop. nil: the worker has none, and a
	// monitor started here measures how late a fresh goroutine runs (the
	// Go scheduler's delay), which a CPU-bound worker still shows.
	Monitor *lagmonitor.Monitor
	// Health adds fields to /healthz (queue depth, processors, ...).
	Health func() map[string]any
	// Routes are further handlers, pattern -> handler ("GET /jobs/{id}").
	Routes map[string]http.Handler
	Logger *slog.Logger
}

// Serve listens on cfg.Addr and serves until ctx ends or stop is called
// (stop is safe twice). It returns once listening, with the bound address.
func Serve(ctx context.Context, cfg Config) (addr string, stop func(), err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &are) {
			return "", nil, fmt.Errorf("worker http: register metrics: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	mon := cfg.Monitor
	if mon == nil {
		mon = lagmonitor.New(lagmonitor.Config{Post: func(fn func()) { go fn() }})
		mon.Start(ctx)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /debug/lag", lagmonitor.Handler(mon, ""))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		body := map[string]any{"status": "ok", "strategy": cfg.Strategy, "role": "worker"}
		if cfg.Health != nil {
			for k, v := range cfg.Health() {
				body[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
	for pattern, h := range cfg.Routes {
		mux.Handle(pattern, h)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("--http %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("worker http", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		if cfg.Monitor == nil {
			mon.Stop()
		}
	}()
	addr = ln.Addr().String()
	cfg.Logger.Info("worker http", "url", "http://"+addr+"/metrics")
	return addr, cancel, nil
}
