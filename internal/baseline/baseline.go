// Package baseline is the reference row of the capacity ladder: a bare
// net/http handler that answers 202 after one LPUSH to Redis, with none of
// a strategy's decoding, validation, concurrency model or metrics. It is
// the fastest honest way to accept a job on this machine with this Redis,
// so every strategy's accept capacity reads as a fraction of it.
//
// With Config.Loop "node" the same row runs under the node loop model
// (NodeHandler), so that a strategy under --loop node can also be read
// against a baseline that pays the same model's costs.
package baseline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/eventloop"
)

// Key is the list every accepted body is pushed onto.
const Key = "baseline:jobs"

// maxBody bounds what one request may push.
const maxBody = 64 << 10

// Handler answers POST /jobs with 202 once the body is in Redis (503 when
// Redis fails), and GET /healthz with 200.
func Handler(rdb *redis.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, `{"error":"body unreadable or too large"}`, http.StatusBadRequest)
			return
		}
		if err := rdb.LPush(r.Context(), Key, body).Err(); err != nil {
			http.Error(w, `{"error":"redis unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

// Config is what Serve needs.
type Config struct {
	Addr     string // HTTP listen address
	RedisURL string
	// Loop is "" for the bare net/http handler (the default), or "node"
	// for the same handler under the node loop model (NodeHandler).
	Loop   string
	Logger *slog.Logger
}

// Serve listens on cfg.Addr until ctx ends.
func Serve(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Loop != "" && cfg.Loop != "node" {
		return fmt.Errorf("loop %q: the baseline runs bare (leave it out) or under node", cfg.Loop)
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	h := Handler(rdb)
	if cfg.Loop == "node" {
		loop := eventloop.NewLoop(0)
		defer loop.Close()
		h = NodeHandler(rdb, loop)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	cfg.Logger.Info("listening", "url", "http://"+ln.Addr().String(), "redis", opt.Addr, "loop", cmp.Or(cfg.Loop, "bare"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
