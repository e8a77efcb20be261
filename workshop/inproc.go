package workshop

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/httpapi"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
)

// inProcess is a strategy behind the real HTTP API, in this process, under
// the node loop: what `offload serve` runs, without a second process.
type inProcess struct {
	Addr  string
	close func()
}

func serveInProcess(strat strategies.Strategy) (*inProcess, error) {
	loop := eventloop.NewLoop(4)
	mon := lagmonitor.New(lagmonitor.Config{Every: loop.Every})
	mon.Start(context.Background())
	api, err := httpapi.New(httpapi.Config{Strategy: strat, Model: loop, Monitor: mon, Registry: prometheus.NewRegistry()})
	if err != nil {
		mon.Stop()
		loop.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		mon.Stop()
		loop.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	srv := httpapi.NewHTTPServer(ln.Addr().String(), api)
	go func() { _ = srv.Serve(ln) }()
	return &inProcess{Addr: ln.Addr().String(), close: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && err != http.ErrServerClosed {
			_ = srv.Close()
		}
		mon.Stop()
		_ = strat.Close(ctx)
		loop.Close()
	}}, nil
}

func (s *inProcess) Close() { s.close() }
