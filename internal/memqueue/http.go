package memqueue

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/httpjson"
	"github.com/offload/offload/internal/workerhttp"
)

// Serve answers /metrics, /healthz, /debug/lag and GET /jobs/{id} about q on addr until
// ctx ends: a worker on another machine can be watched without the web
// server. It returns once listening; the server stops with ctx.
func Serve(ctx context.Context, addr, strategy string, q *Queue, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(strategy, q.Stats))
	jobs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, ok := q.State(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "this worker has not held that job recently"})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	_, _, err := workerhttp.Serve(ctx, workerhttp.Config{Addr: addr, Strategy: strategy, Registry: reg, Logger: log,
		Health: func() map[string]any { return map[string]any{"stats": q.Stats()} },
		Routes: map[string]http.Handler{"GET /jobs/{id}": jobs}})
	return err
}

// writeJSON is the one JSON answer every server in offload gives.
func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }
