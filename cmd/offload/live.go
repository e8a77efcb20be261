package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/liveview"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/results"
)

// listenLive opens the live page's socket early, so a bad --ui is exit 2
// before anything starts; nil when --ui off.
func listenLive(lf liveview.Flags) (net.Listener, error) {
	if lf.Off() {
		return nil, nil
	}
	ln, err := lf.Listen()
	if err != nil {
		return nil, cli.Usage(err)
	}
	return ln, nil
}

// runChildren is what `offload run` started, as the live page reads it.
type runChildren struct {
	sup   *proc.Supervisor
	names []string          // supervisor children, web first
	http  map[string]string // child -> base URL of its /metrics and /debug/lag
	redis *redisproc.Server // nil when --redis was given
	// cluster is the one --redis-cluster started; its nodes are shown, a
	// killed one down (a failover's replica takes over on its own).
	cluster *rediscluster.Cluster
	// redisMu is held while Redis restarts (redisproc.Server is not safe
	// for concurrent use); the page shows Redis down meanwhile.
	redisMu sync.Mutex
}

func (rc *runChildren) processes() []liveview.Proc {
	var out []liveview.Proc
	for _, name := range rc.names {
		p := rc.sup.Process(name)
		if p == nil {
			continue
		}
		out = append(out, liveview.Proc{HTTP: rc.http[name], Process: liveview.Process{
			Role: name, PID: p.PID(), Up: !p.Exited(), Restarts: rc.sup.Restarts(name)}})
	}
	if rc.cluster != nil {
		for i, n := range rc.cluster.Nodes() {
			out = append(out, liveview.Proc{Process: liveview.Process{Role: "redis-" + strconv.Itoa(i+1), PID: n.PID(), Up: !n.Killed()}})
		}
	}
	if rc.redis != nil {
		if rc.redisMu.TryLock() {
			if p := rc.redis.Process(); p != nil {
				out = append(out, liveview.Proc{Process: liveview.Process{Role: "redis", PID: p.PID(), Up: !p.Exited()}})
			}
			rc.redisMu.Unlock()
		} else {
			out = append(out, liveview.Proc{Process: liveview.Process{Role: "redis"}})
		}
	}
	return out
}

func (rc *runChildren) actions() liveview.RunActions {
	var a liveview.RunActions
	worker := ""
	for _, n := range rc.names {
		if n != "web" {
			worker = n
			break
		}
	}
	if worker != "" {
		a.WorkerPID = func() int {
			if p := rc.sup.Process(worker); p != nil && !p.Exited() {
				return p.PID()
			}
			return 0
		}
		a.KillWorker = func() (string, int, error) {
			p := rc.sup.Process(worker)
			if p == nil || p.Exited() {
				return "", 0, fmt.Errorf("%s is not running", worker)
			}
			return worker, p.PID(), p.Signal(syscall.SIGKILL)
		}
	}
	if rc.redis != nil {
		_, port, _ := net.SplitHostPort(rc.redis.Addr())
		a.RedisCommand = fmt.Sprintf("redis-cli -p %s shutdown; redis-server --port %s --dir %s --appendonly yes", port, port, rc.redis.Dir())
		a.RestartRedis = func(ctx context.Context) error {
			rc.redisMu.Lock()
			defer rc.redisMu.Unlock()
			return rc.redis.Restart(ctx, false)
		}
	}
	return a
}

// startRunPage serves the live page of `offload run` on ln until ctx ends.
func startRunPage(ctx context.Context, ln net.Listener, lf liveview.Flags, cfg liveview.RunConfig, stdout io.Writer, log *slog.Logger) (stop func(), err error) {
	srv, err := liveview.NewServer(ln, "offload run", lf.ReadOnly, lf.Public, log)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		liveview.Run(pctx, srv, cfg)
	}()
	mode := ""
	if srv.ReadOnly() {
		mode = "  (read-only)"
	}
	fmt.Fprintf(stdout, "  page   %s%s\n", srv.URL(), mode)
	return func() {
		cancel()
		<-done
		_ = srv.Close()
	}, nil
}

// startBenchPage serves the live page of `offload bench` (never with
// actions); progress is the harness' callback teed to it.
func startBenchPage(ctx context.Context, ln net.Listener, lf liveview.Flags, progress func(results.Progress), stderr io.Writer) (func(results.Progress), *liveview.Bench, func(), error) {
	srv, err := liveview.NewServer(ln, "offload bench", true, lf.Public, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	lb := liveview.NewBench(pctx, srv)
	fmt.Fprintf(stderr, "offload bench: live page %s\n", srv.URL())
	tee := func(p results.Progress) {
		progress(p)
		lb.Progress(p)
	}
	return tee, lb, func() { cancel(); _ = srv.Close() }, nil
}

// freeHTTP is a loopback address for a worker's /metrics and /debug/lag.
func freeHTTP() (string, error) {
	port, err := redisproc.FreePort()
	if err != nil {
		return "", fmt.Errorf("worker http port: %w", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
