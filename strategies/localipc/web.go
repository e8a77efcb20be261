package localipc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/ipc"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/strategies"
)

// sendTimeout bounds a hand-over: a leader that stops reading gets 503s,
// not a web server stuck behind it.
const sendTimeout = 2 * time.Second

// Web is the web child's side: it hands jobs to the leader.
type Web struct {
	path string
	log  *slog.Logger
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu     sync.Mutex
	conn   *ipc.Conn // nil while disconnected
	stats  relayed
	states states
}

var (
	_ strategies.Strategy = (*Web)(nil)
	_ strategies.Tracker  = (*Web)(nil)
)

// registerSocket is the one --ipc-socket flag: the leader gives it to both
// of its children.
func registerSocket(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "ipc-socket", "", "localipc: the supervisor's Unix socket (set by offload run)")
}

// WebFlags registers the web side's flags on fs and returns its
// constructor: the catalog entry's WebFlags func.
func WebFlags(fs *flag.FlagSet) func(strategies.Config) (strategies.Strategy, error) {
	var socket string
	registerSocket(fs, &socket)
	return func(cfg strategies.Config) (strategies.Strategy, error) { return NewWith(cfg, socket) }
}

// New cannot connect anywhere: the web side needs the leader's socket
// (NewWith); it exists so that every catalog entry has a New.
func New(cfg strategies.Config) (strategies.Strategy, error) { return NewWith(cfg, "") }

// NewWith connects to the leader at socket.
func NewWith(cfg strategies.Config, socket string) (strategies.Strategy, error) {
	if socket == "" {
		return nil, errors.New("localipc: --ipc-socket is required: start this strategy with `offload run --strategy localipc`, whose leader owns the socket")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &Web{path: socket, log: log, quit: make(chan struct{}), states: newStates(100_000)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := hello(ctx, socket, roleWeb)
	if err != nil {
		return nil, fmt.Errorf("localipc: %w", err)
	}
	w.conn = conn
	if cfg.Metrics != nil {
		if err := w.register(cfg.Metrics); err != nil {
			conn.Close()
			return nil, err
		}
	}
	w.wg.Add(1)
	go w.listen(conn)
	return w, nil
}

// hello dials the leader and says who is calling.
func hello(ctx context.Context, path, role string) (*ipc.Conn, error) {
	conn, err := ipc.Dial(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := conn.Send(message{Type: "hello", Role: role, PID: os.Getpid()}, sendTimeout); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hello to leader: %w", err)
	}
	return conn, nil
}

func (w *Web) Name() string { return "localipc" }

// Submit writes the job to the leader's socket. Once the frame is written
// the leader will read it even if this process dies next, so that is when
// the job counts as accepted.
func (w *Web) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	rt.IO(func() error { // a socket write, as child_process's channel is
		w.mu.Lock()
		conn := w.conn
		w.mu.Unlock()
		if conn == nil {
			return fmt.Errorf("%w: not connected to the localipc leader", strategies.ErrUnavailable)
		}
		if err := conn.Send(message{Type: "job", Job: &j}, sendTimeout); err != nil {
			return fmt.Errorf("%w: hand job %s to the leader: %v", strategies.ErrUnavailable, j.ID, err)
		}
		return nil
	}, func(err error) {
		if err != nil {
			reply(strategies.Outcome{Err: err})
			return
		}
		w.states.accepted(j.ID)
		reply(strategies.Outcome{Status: strategies.StatusAccepted})
	})
}

// listen applies what the leader relays until the connection ends, then
// reconnects (a leader that is really gone takes this process with it).
func (w *Web) listen(conn *ipc.Conn) {
	defer w.wg.Done()
	for {
		w.read(conn)
		w.mu.Lock()
		w.conn = nil
		w.stats.WorkerUp = false
		w.mu.Unlock()
		conn.Close()
		for {
			select {
			case <-w.quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c, err := hello(ctx, w.path, roleWeb)
			cancel()
			if err == nil {
				w.mu.Lock()
				w.conn, conn = c, c
				w.mu.Unlock()
				w.log.Info("reconnected to the localipc leader")
				break
			}
		}
	}
}

func (w *Web) read(conn *ipc.Conn) {
	for {
		var m message
		if err := conn.Recv(&m); err != nil {
			select {
			case <-w.quit:
			default:
				w.log.Warn("connection to the localipc leader lost", "err", err)
			}
			return
		}
		switch {
		case m.Type == "state" && m.State != nil:
			w.states.set(*m.State)
		case m.Type == "stats" && m.Stats != nil:
			w.mu.Lock()
			w.stats = *m.Stats
			w.mu.Unlock()
		case m.Type == "lost":
			w.states.lost(m.IDs)
		}
	}
}

func (w *Web) relayed() relayed {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// State answers from what the worker reported through the leader.
func (w *Web) State(_ context.Context, id string) (strategies.JobState, error) {
	st, ok := w.states.Get(id)
	if !ok {
		return strategies.JobState{}, fmt.Errorf("%w: %s (this web process remembers the jobs in progress and the last 100000 finished, and nothing across its own restart)", strategies.ErrUnknownJob, id)
	}
	st.Strategy = "localipc"
	return st, nil
}

// Close disconnects from the leader. Jobs already handed over are the
// leader's; none wait here.
func (w *Web) Close(context.Context) error {
	w.once.Do(func() {
		close(w.quit)
		w.mu.Lock()
		if w.conn != nil {
			w.conn.Close()
		}
		w.mu.Unlock()
		w.wg.Wait()
	})
	return nil
}

func (w *Web) register(reg prometheus.Registerer) error {
	g := func(name, help string, f func(relayed) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "offload_localipc_" + name, Help: help},
			func() float64 { return f(w.relayed()) })
	}
	cs := []prometheus.Collector{
		memqueue.NewCollector("localipc", func() memqueue.Stats { return w.relayed().Worker }),
		g("pending", "Jobs waiting in the leader because no worker is connected.", func(r relayed) float64 { return float64(r.Pending) }),
		g("worker_up", "1 while a worker is connected to the leader.", func(r relayed) float64 { return b2f(r.WorkerUp) }),
		g("worker_restarts", "Times the leader restarted the worker.", func(r relayed) float64 { return float64(r.Restarts) }),
		g("lost", "Jobs that died in a worker's memory (the leader relayed them and saw no final state).", func(r relayed) float64 { return float64(r.Lost) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("localipc: register metrics: %w", err)
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
