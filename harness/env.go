package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/netcut"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies/catalog"
)

// EnvConfig says what to start for one run.
type EnvConfig struct {
	Exe      string // the offload binary
	Strategy string
	Entry    catalog.Entry
	Variant  catalog.Variant
	Workers  int    // job workers (Brokered); default 1
	Loop     string // the web's --loop
	// Concurrency is --concurrency for every process that sends mail (the
	// web side of foreground and fireforget, every job worker); 0 leaves
	// each strategy at its own default.
	Concurrency int
	// CPUs pins every process of the system under test (web, workers,
	// redis-servers, and their restarts) to these CPUs; nil: anywhere.
	CPUs   cpuset.Set
	SMTP   string // the sink
	Output io.Writer
	Ready  time.Duration // how long the web may take to answer /healthz; default 20s
	// Partition runs the web process and worker-1 in a network namespace
	// of their own, with Redis on the one address the partition fault
	// cuts (netcut). Sink is then served on the namespace's host address
	// too, and every process sends its mail there instead of to SMTP.
	Partition bool
	Sink      *mailsink.Sink
}

// Env is the set of processes one run measures: fresh for every run, all
// in their own process groups, all killed by Close.
type Env struct {
	cfg      EnvConfig
	addr     string // web host:port
	endpoint string // a variant's fresh endpoint (zmq), shared by web and workers
	redis    *redisproc.Server
	failover *replicated   // a variant's cluster or replica pair (failover.go)
	web      *proc.Process // serve, or the supervisor
	workers  []*proc.Process
	extra    map[string]*proc.Process
	all      []*proc.Process // every process ever started, for the orphan check
	seen     map[int]bool    // supervisor children seen, for the orphan check
	// net is the partition's namespace (nil in other runs); smtp is the
	// sink's address every process is given.
	net      *netcut.Net
	smtp     string
	stopSink func() error
}

// cutOff are the roles run inside the partition's namespace: the web
// process and one worker lose Redis, the other workers (and the event
// bus's audit consumer) keep it.
var cutOff = []string{"web", workerRole(0)}

// StartEnv starts redis (if needed), the web process and the workers, and
// returns once the web answers /healthz.
func StartEnv(ctx context.Context, cfg EnvConfig) (env *Env, err error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Ready <= 0 {
		cfg.Ready = 20 * time.Second
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	e := &Env{cfg: cfg, extra: map[string]*proc.Process{}, seen: map[int]bool{}, smtp: cfg.SMTP}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	port, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	e.addr = "127.0.0.1:" + strconv.Itoa(port)
	var redisBind string // "": loopback
	if cfg.Partition {
		if e.net, err = e.partition(ctx); err != nil {
			return nil, err
		}
		// The web listens inside, where any port is free.
		e.addr = net.JoinHostPort(e.net.InsideIP.String(), strconv.Itoa(port))
		redisBind = e.net.CutIP.String()
	}
	if cfg.Variant.FreshEndpoint != "" {
		zp, err := redisproc.FreePort()
		if err != nil {
			return nil, err
		}
		e.endpoint = "tcp://127.0.0.1:" + strconv.Itoa(zp)
	}
	if cfg.Variant.Broker != "" {
		if e.failover, err = startReplicated(ctx, cfg.Variant.Broker, cfg.Entry.FailoverKey, redisBind, cfg.CPUs); err != nil {
			return nil, err
		}
		e.all = append(e.all, e.failover.processes()...)
	} else if cfg.Entry.WantsRedis(cfg.Variant.Transport) {
		e.redis, err = redisproc.Start(ctx, redisproc.Config{AppendOnly: true, Bind: redisBind, CPUs: cfg.CPUs})
		if err != nil {
			return nil, fmt.Errorf("start redis: %w", err)
		}
		e.all = append(e.all, e.redis.Process())
	}
	if e.web, err = e.start("web", e.webArgs()); err != nil {
		return nil, err
	}
	if err := e.waitHealthy(ctx); err != nil {
		return nil, err
	}
	if cfg.Entry.Layout() == catalog.Brokered {
		for i := range cfg.Workers {
			p, err := e.start(workerRole(i), e.workerArgs(cfg.Entry.BenchWorkerArgs))
			if err != nil {
				return nil, err
			}
			e.workers = append(e.workers, p)
		}
		for _, role := range slices.Sorted(maps.Keys(cfg.Entry.Extra)) {
			p, err := e.start(role, e.workerArgs(cfg.Entry.Extra[role]))
			if err != nil {
				return nil, err
			}
			e.extra[role] = p
		}
	}
	return e, nil
}

func workerRole(i int) string { return "worker-" + strconv.Itoa(i+1) }

// partition makes the run's namespace and serves the sink on its host
// address, which every process then sends to: one address for all, so
// the sink counts the victims' mail and the others' alike.
func (e *Env) partition(ctx context.Context) (*netcut.Net, error) {
	if e.cfg.Sink == nil {
		return nil, errors.New("partition: no mail sink to serve inside the namespace")
	}
	n, err := netcut.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	addr, stop, err := e.cfg.Sink.Listen(net.JoinHostPort(n.HostIP.String(), "0"))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("partition: %w", err), n.Close())
	}
	e.smtp, e.stopSink = addr, stop
	return n, nil
}

// URL is the web's base URL.
func (e *Env) URL() string { return "http://" + e.addr }

func (e *Env) common() []string {
	a := []string{"--strategy", e.cfg.Strategy, "--smtp", e.smtp}
	if e.redis != nil {
		a = append(a, "--redis", e.redis.URL())
	}
	if e.failover != nil {
		a = append(a, "--redis", e.failover.url())
		if e.cfg.Variant.Broker == catalog.BrokerCluster {
			a = append(a, e.cfg.Entry.ClusterArgs...)
		}
	}
	a = append(a, e.cfg.Variant.Args...)
	if t := e.cfg.Variant.Transport; t != "" {
		a = append(a, "--transport", t)
	}
	if e.endpoint != "" {
		a = append(a, e.cfg.Variant.FreshEndpoint, e.endpoint)
	}
	return a
}

func (e *Env) webArgs() []string {
	cmd := "serve"
	if e.cfg.Entry.Layout() == catalog.Supervised {
		cmd = "run"
	}
	a := append([]string{cmd, "--addr", e.addr, "--loop", e.cfg.Loop}, e.common()...)
	if webSends(e.cfg.Entry) {
		a = append(a, concurrencyArgs(e.cfg.Concurrency)...)
	}
	return a
}

func (e *Env) workerArgs(extra []string) []string {
	a := append(append([]string{"work"}, e.common()...), extra...)
	return append(a, concurrencyArgs(e.cfg.Concurrency)...)
}

func (e *Env) start(role string, args []string) (*proc.Process, error) {
	path := e.cfg.Exe
	if e.net != nil && slices.Contains(cutOff, role) {
		path, args = e.net.Command(path, args...)
	}
	p, err := proc.Start(proc.Spec{Name: role, Path: path, Args: args, Output: e.cfg.Output, CPUs: e.cfg.CPUs})
	if err != nil {
		return nil, err
	}
	e.all = append(e.all, p)
	return p, nil
}

func (e *Env) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	ok := wait.Until(ctx, e.cfg.Ready, func() bool {
		if e.web.Exited() {
			return true // reported below
		}
		return healthy(ctx, client, e.URL())
	})
	if e.web.Exited() {
		return fmt.Errorf("web process exited at start-up: %v (see the run's log)", e.web.Err())
	}
	if !ok {
		return fmt.Errorf("web did not answer /healthz within %v", e.cfg.Ready)
	}
	return nil
}

func healthy(ctx context.Context, c *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// role is the running process of role ("web", "worker-1"), nil if none.
func (e *Env) role(role string) *proc.Process {
	if role == "web" {
		return e.web
	}
	for i, w := range e.workers {
		if workerRole(i) == role {
			return w
		}
	}
	return e.extra[role]
}

// Targets are the processes to sample for CPU and memory.
func (e *Env) Targets() []Target {
	var t []Target
	if e.web != nil && !e.web.Exited() {
		role := "web"
		if e.cfg.Entry.Layout() == catalog.Supervised {
			role = "supervisor"
		}
		t = append(t, Target{Role: role, PID: e.web.PID(), Tree: e.cfg.Entry.Layout() == catalog.Supervised})
		if e.cfg.Entry.Layout() == catalog.Supervised {
			for _, c := range Children("/proc", e.web.PID()) {
				e.seen[c] = true
			}
		}
	}
	for i, w := range e.workers {
		if w != nil && !w.Exited() {
			t = append(t, Target{Role: workerRole(i), PID: w.PID()})
		}
	}
	for role, p := range e.extra {
		if !p.Exited() {
			t = append(t, Target{Role: role, PID: p.PID()})
		}
	}
	if e.redis != nil && e.redis.PID() != 0 {
		t = append(t, Target{Role: "redis", PID: e.redis.PID()})
	}
	t = append(t, e.failover.targets()...)
	return t
}

// Close kills every process the run started and checks that none is left
// (supervisor children included). Safe to call twice.
func (e *Env) Close() error {
	for _, p := range e.all {
		if p != nil {
			_ = p.Kill()
		}
	}
	if e.redis != nil {
		e.redis.Close()
	}
	e.failover.close()
	var alive []string
	for _, p := range e.all {
		if p != nil && !wait.Until(context.Background(), 5*time.Second, func() bool { return !p.GroupAlive() }) {
			alive = append(alive, fmt.Sprintf("%s (group %d)", p.Spec.Name, p.PID()))
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		}
	}
	for pid := range e.seen {
		if !wait.Until(context.Background(), 5*time.Second, func() bool { return !procAlive(pid) }) {
			alive = append(alive, fmt.Sprintf("supervisor child %d", pid))
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	var errs []error
	if len(alive) > 0 {
		errs = append(errs, fmt.Errorf("processes outlived their run (killed now): %s", strings.Join(alive, ", ")))
	}
	// The namespace goes after its processes: while one is inside, it
	// lives on unnamed.
	if e.stopSink != nil {
		_ = e.stopSink()
	}
	if e.net != nil {
		if err := e.net.Close(); err != nil {
			errs = append(errs, fmt.Errorf("partition namespace outlived its run: %w", err))
		}
	}
	return errors.Join(errs...)
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	st, err := ReadProc("/proc", pid)
	return err == nil && !st.Zombie
}

// supervisedChild finds the supervisor's child whose command is sub
// ("serve" or "work").
func (e *Env) supervisedChild(sub string) (int, error) {
	if e.web == nil || e.web.Exited() {
		return 0, errors.New("supervisor is not running")
	}
	for _, c := range Children("/proc", e.web.PID()) {
		st, err := ReadProc("/proc", c)
		if err != nil {
			continue
		}
		f := strings.Fields(st.Cmdline)
		if len(f) > 1 && f[1] == sub {
			e.seen[c] = true
			return c, nil
		}
	}
	return 0, fmt.Errorf("supervisor %d has no %q child", e.web.PID(), sub)
}

// LogPath is where a run's process output goes.
func LogPath(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }

// OpenLog creates a run's process log.
func OpenLog(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("logs dir: %w", err)
	}
	return os.Create(LogPath(dir, name))
}
