package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies/catalog"
)

// Every `offload work --http ADDR` answers /healthz, /metrics and
// /debug/lag, whatever its strategy: one server (internal/workerhttp) for
// all. localipc's worker is left out: it starts only as its leader's child
// (offload run), and serves the same server through memqueue, as pubsub's.
func TestEveryWorkerAnswersTheThreeRoutes(t *testing.T) {
	rs := itest.Redis(t)
	sink := itest.Sink(t, mailsink.Config{})
	free := func() string {
		p, err := redisproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	for _, e := range catalog.All() {
		if !e.HasWorkers() || e.Run != nil {
			continue
		}
		for _, v := range append([]catalog.Variant{{}}, e.Variants...) {
			if v.Broker != "" {
				continue // a variant with a broker of its own (a cluster) needs that broker running
			}
			t.Run(e.Name+" "+v.Name, func(t *testing.T) {
				addr := free()
				args := []string{"work", "--strategy", e.Name, "--redis", rs.URL(), "--smtp", sink.Addr(), "--http", addr}
				if v.Transport != "" {
					args = append(args, "--transport", v.Transport)
				}
				if v.FreshEndpoint != "" {
					args = append(args, v.FreshEndpoint, "tcp://"+free())
				}
				p := itest.Start(t, "worker", args...)
				ctx := context.Background()
				base := "http://" + addr
				if !wait.Until(ctx, 20*time.Second, func() bool { return !p.Exited() && wait.HTTPOK(ctx, base+"/healthz") }) {
					t.Fatalf("worker never answered %s/healthz (exited: %v)", base, p.Exited())
				}
				for _, route := range []string{"/metrics", "/debug/lag"} {
					if !wait.HTTPOK(ctx, base+route) {
						t.Errorf("GET %s: not 200", route)
					}
				}
			})
		}
	}
}
