package baseline

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/eventloop"
)

// NodeHandler is the same reference row under the node loop model: the
// body is read off the loop (as libuv reads a socket), then on the loop the
// request pays what Node's http and JSON cost on its thread, the LPUSH pays
// what ioredis costs, and the push itself runs on the I/O path, its
// callback back on the loop. It is what a strategy under --loop node reads
// as a fraction of, so that the model's own overhead is in both.
func NodeHandler(rdb *redis.Client, loop *eventloop.Loop) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, `{"error":"body unreadable or too large"}`, http.StatusBadRequest)
			return
		}
		var pushErr error
		err = loop.Handle(r.Context(), func(rt eventloop.Runtime, done func()) {
			eventloop.Charge(rt, eventloop.CostHTTPRequest+eventloop.CostRedisCommand)
			rt.IO(func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				return rdb.LPush(ctx, Key, body).Err()
			}, func(err error) {
				pushErr = err
				done()
			})
		})
		if err != nil || pushErr != nil {
			http.Error(w, `{"error":"redis unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := loop.Handle(r.Context(), func(_ eventloop.Runtime, done func()) { done() }); err != nil {
			http.Error(w, `{"error":"loop did not answer"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}
