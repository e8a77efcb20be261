package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

// A loop model is judged by the thing it models. NodeVsModel runs the
// talk's programs on real Node.js (reference/node) and offload's own
// servers under --loop node one after the other, each on a fresh
// redis-server and a fresh sink with the bench's provider model, the
// system under test pinned to the same CPUs and the load to the others,
// and measures both the same way: the closed-loop accept maximum, the
// deliveries the sink saw meanwhile, and the cpu scenario through
// `offload bench --target`, which reads each server's /debug/lag.

// NodeVsModelStrategies are the strategies both sides have, baseline first
// (every share is over the same runtime's baseline): those the catalog
// gives a reference program.
func NodeVsModelStrategies() []string {
	out := []string{Baseline}
	for _, e := range catalog.All() {
		if e.NodeReference != "" {
			out = append(out, e.Name)
		}
	}
	return out
}

// baselineReference is the Node baseline: http and one ioredis LPUSH.
const baselineReference = "0-baseline.js"

// NodeVsModelConfig says what to run and where.
type NodeVsModelConfig struct {
	Exe        string // the offload binary
	Node       string // the node executable
	NodeDir    string // reference/node, its packages installed
	Strategies []string
	Accept     time.Duration // the closed-loop measurement; default 5s
	Warmup     time.Duration // before it, discarded; default 1s
	C          int           // hey's concurrency; default 50
	// Load and SUT are the CPUs of this process (and the bench it starts)
	// and of the servers, workers and redis-server. Nil: no pinning.
	Load, SUT cpuset.Set
	Min, Max  int    // the queue's processors, on both sides; default 1 and 20
	Out       string // where the cpu benches and the processes' logs go
	Log       io.Writer
}

func (c *NodeVsModelConfig) defaults() {
	if c.Accept <= 0 {
		c.Accept = 5 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = time.Second
	}
	if c.C <= 0 {
		c.C = 50
	}
	if c.Min <= 0 {
		c.Min = 1
	}
	if c.Max < c.Min {
		c.Max = max(20, c.Min)
	}
	if len(c.Strategies) == 0 {
		c.Strategies = NodeVsModelStrategies()
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// sides of the comparison; "bare" is offload's baseline on plain net/http.
const (
	sideNode  = "node"
	sideModel = "model"
	sideBare  = "bare"
)

// argvs is one side's web command and its worker's (nil: none).
func (c *NodeVsModelConfig) argvs(side, strategy, addr, smtp, redisURL string) (web, worker []string, err error) {
	common := []string{"--addr", addr, "--smtp", smtp, "--redis", redisURL}
	minMax := []string{"--min", strconv.Itoa(c.Min), "--max", strconv.Itoa(c.Max)}
	prog, workerProg := baselineReference, []string(nil)
	if strategy != Baseline {
		e, err := catalog.Lookup(strategy)
		if err != nil {
			return nil, nil, err
		}
		if e.NodeReference == "" {
			return nil, nil, fmt.Errorf("strategy %s has no reference program on Node", strategy)
		}
		prog, workerProg = e.NodeReference, e.NodeWorker
	}
	switch side {
	case sideNode:
		web = append([]string{c.Node, prog}, common...)
		if workerProg != nil {
			worker = append(append([]string{c.Node}, workerProg...), append([]string{"--smtp", smtp, "--redis", redisURL}, minMax...)...)
		}
	case sideModel, sideBare:
		if strategy == Baseline {
			web = []string{c.Exe, "baseline", "--addr", addr, "--redis", redisURL}
			if side == sideModel {
				web = append(web, "--loop", "node")
			}
			break
		}
		web = append([]string{c.Exe, "serve", "--strategy", strategy, "--loop", "node"}, common...)
		if workerProg != nil {
			worker = append([]string{c.Exe, "work", "--strategy", strategy, "--smtp", smtp, "--redis", redisURL}, minMax...)
		}
	default:
		return nil, nil, fmt.Errorf("unknown side %q", side)
	}
	return web, worker, nil
}

// nvmStack is one side's servers for one measurement.
type nvmStack struct {
	base  string
	redis *redisproc.Server
	procs []*proc.Process
	log   *os.File // the servers' output
}

func (s *nvmStack) close() {
	for _, p := range slices.Backward(s.procs) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.Stop(ctx)
		cancel()
	}
	if s.redis != nil {
		s.redis.Close()
	}
	if s.log != nil {
		_ = s.log.Close()
	}
}

func (c *NodeVsModelConfig) pin(pid int) error {
	if c.SUT == nil {
		return nil
	}
	return cpuset.Pin(pid, c.SUT)
}

// startStack starts a redis-server, the side's web (and worker) mailing
// smtp, all pinned to the SUT CPUs, and waits for the web's /healthz.
func (c *NodeVsModelConfig) startStack(ctx context.Context, side, strategy, smtp, logName string) (_ *nvmStack, err error) {
	st := &nvmStack{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if st.redis, err = redisproc.Start(ctx, redisproc.Config{}); err != nil {
		return nil, err
	}
	if err := c.pin(st.redis.PID()); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	web, worker, err := c.argvs(side, strategy, addr, smtp, "redis://"+st.redis.Addr())
	if err != nil {
		return nil, err
	}
	if st.log, err = OpenLog(c.Out, logName); err != nil {
		return nil, err
	}
	env := []string{}
	if c.SUT != nil {
		// A Go process sized for the CPUs it may use; Node sizes nothing
		// by them (its thread pool is UV_THREADPOOL_SIZE, 4).
		env = append(env, "GOMAXPROCS="+strconv.Itoa(len(c.SUT)))
	}
	for i, argv := range [][]string{web, worker} {
		if argv == nil {
			continue
		}
		name := side + "-web"
		if i == 1 {
			name = side + "-worker"
		}
		p, err := proc.Start(proc.Spec{Name: name, Path: argv[0], Args: argv[1:], Env: env, Dir: c.NodeDir,
			Output: st.log, Foreign: side == sideNode})
		if err != nil {
			return nil, err
		}
		st.procs = append(st.procs, p)
		if err := c.pin(p.PID()); err != nil {
			return nil, err
		}
	}
	st.base = "http://" + addr
	if !wait.Until(ctx, 20*time.Second, func() bool { return wait.HTTPOK(ctx, st.base+"/healthz") }) {
		return nil, fmt.Errorf("%s %s did not answer /healthz within 20s (log: %s)", side, strategy, LogPath(c.Out, logName))
	}
	// Node starts its helper threads after the first pin: pin again now
	// that the servers are up, so every thread they have is on the SUT.
	for _, p := range st.procs {
		if err := c.pin(p.PID()); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// freeAddr is a free loopback address.
func freeAddr() (string, error) {
	port, err := redisproc.FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// benchSink starts a sink with the bench's provider model.
func benchSink(addr string) (*mailsink.Sink, error) {
	cfg := Full().Provider
	cfg.Addr, cfg.Seed = addr, 1
	return mailsink.Start(cfg)
}

// acceptLeg measures the closed-loop accept maximum and the deliveries
// meanwhile.
func (c *NodeVsModelConfig) acceptLeg(ctx context.Context, side, strategy string) (results.NodeVsModelSide, error) {
	var out results.NodeVsModelSide
	smtp, err := freeAddr()
	if err != nil {
		return out, err
	}
	sink, err := benchSink(smtp)
	if err != nil {
		return out, err
	}
	defer sink.Close()
	st, err := c.startStack(ctx, side, strategy, smtp, fmt.Sprintf("%s-%s-accept", side, strategy))
	if err != nil {
		return out, err
	}
	defer st.close()
	prefix := fmt.Sprintf("nvm-%s-%s-", side, strategy)
	if _, _, err := Hey(ctx, st.base, Scenario{}, prefix+"w", c.Warmup, c.C); err != nil {
		return out, err
	}
	t0 := time.Now()
	h, _, err := Hey(ctx, st.base, Scenario{}, prefix+"m", c.Accept, c.C)
	t1 := time.Now()
	if err != nil {
		return out, err
	}
	out.AcceptRPS = round3(h.RPS * h.OKShare())
	out.Errors = h.Errors + h.Non2xx
	if strategy != Baseline {
		n := 0
		for _, d := range sink.Deliveries() {
			if strings.HasPrefix(d.ID, prefix) && !d.First.Before(t0) && d.First.Before(t1) {
				n++
			}
		}
		out.DeliveryRPS = round3(float64(n) / t1.Sub(t0).Seconds())
	}
	return out, nil
}

// cpuLeg runs `offload bench --target URL --scenarios cpu` against a
// fresh stack and reads its HTTP p99 and the web's lag p99.
func (c *NodeVsModelConfig) cpuLeg(ctx context.Context, side, strategy string, out *results.NodeVsModelSide) error {
	smtp, err := freeAddr()
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%s-cpu", side, strategy)
	st, err := c.startStack(ctx, side, strategy, smtp, name)
	if err != nil {
		return err
	}
	defer st.close()
	dir := filepath.Join(c.Out, name)
	logf, err := OpenLog(c.Out, name+"-bench")
	if err != nil {
		return err
	}
	defer logf.Close()
	// The bench is placed here, with the load; it must not place itself.
	// One P more than its CPUs, as a placed bench gives itself: its
	// firing thread sleeps holding one.
	var env []string
	if c.Load != nil {
		env = []string{"GOMAXPROCS=" + strconv.Itoa(len(c.Load)+1)}
	}
	p, err := proc.Start(proc.Spec{Name: "bench", Path: c.Exe, Env: env, Output: logf, CPUs: c.Load,
		Args: []string{"bench", "--target", st.base, "--scenarios", "cpu", "--sink-addr", smtp, "--out", dir, "--cpus", "off"}})
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		_ = p.Kill()
		return ctx.Err()
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("offload bench against %s %s: %w (log: %s)", side, strategy, err, LogPath(c.Out, name+"-bench"))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "results.json"))
	if len(files) == 0 {
		return fmt.Errorf("offload bench against %s %s wrote no results.json under %s", side, strategy, dir)
	}
	f, err := results.Read(files[len(files)-1])
	if err != nil {
		return err
	}
	for _, r := range f.Runs {
		if r.Scenario != CPU || r.NAReason != "" {
			continue
		}
		out.CPUHTTPP99MS, out.CPULagP99MS, out.CPULagMaxMS = r.HTTPLatencyMS.P99, r.LagMS.P99, r.LagMS.Max
		if r.Invalid != "" {
			out.Note = "cpu run invalid: " + r.Invalid
		}
		return nil
	}
	return fmt.Errorf("offload bench against %s %s: no cpu run in %s", side, strategy, files[len(files)-1])
}

// NodeVsModel runs the comparison.
func NodeVsModel(ctx context.Context, cfg NodeVsModelConfig) (*results.NodeVsModel, error) {
	cfg.defaults()
	if cfg.Load != nil {
		if err := cpuset.Pin(os.Getpid(), cfg.Load); err != nil {
			return nil, err
		}
		prev := runtime.GOMAXPROCS(len(cfg.Load))
		defer runtime.GOMAXPROCS(prev)
	}
	res := &results.NodeVsModel{
		Accept: fmt.Sprintf("closed-loop maximum: hey -c %d for %s after %s of warm-up, each request a new job id; 2xx answers only",
			cfg.C, cfg.Accept, cfg.Warmup),
		Queue: fmt.Sprintf("min %d, max %d processors (node-resque MultiWorker minTaskProcessors/maxTaskProcessors; offload work --min/--max)", cfg.Min, cfg.Max),
	}
	res.Sink = "offload's bench sink, latency " + Full().Provider.Latency().String() + " (a round trip on MAIL and RCPT, then the time after DATA)"
	res.Placement = "off"
	if cfg.SUT != nil {
		res.Placement = fmt.Sprintf("load=%s sut=%s", cfg.Load, cfg.SUT)
	}
	if v, err := nodeVersion(ctx, cfg.Node); err == nil {
		res.NodeVersion = v
	}
	bare, err := cfg.acceptLeg(ctx, sideBare, Baseline)
	if err != nil {
		return nil, fmt.Errorf("bare baseline: %w", err)
	}
	res.BareBaselineRPS = bare.AcceptRPS
	fmt.Fprintf(cfg.Log, "bare net/http baseline: %s req/s\n", fmtRate(bare.AcceptRPS))
	for _, s := range cfg.Strategies {
		row := results.NodeVsModelRow{Strategy: s}
		for _, side := range []string{sideNode, sideModel} {
			m, err := cfg.acceptLeg(ctx, side, s)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", side, s, err)
			}
			if err := cfg.cpuLeg(ctx, side, s, &m); err != nil {
				return nil, fmt.Errorf("%s %s: %w", side, s, err)
			}
			web, _, _ := cfg.argvs(side, s, "ADDR", "SMTP", "REDIS")
			m.Program = strings.Join(append([]string{filepath.Base(web[0])}, web[1:2]...), " ")
			if side == sideModel {
				m.Program = "offload " + strings.Join(web[1:], " ")
				m.Program = strings.NewReplacer(" --addr ADDR", "", " --smtp SMTP", "", " --redis REDIS", "").Replace(m.Program)
			}
			fmt.Fprintf(cfg.Log, "%-10s %-5s accept %s req/s, delivered %s/s, cpu scenario http p99 %s ms, lag p99 %s max %s ms %s\n",
				s, side, fmtRate(m.AcceptRPS), fmtRate(m.DeliveryRPS), fmtMS(m.CPUHTTPP99MS), fmtMS(m.CPULagP99MS), fmtMS(m.CPULagMaxMS), m.Note)
			if side == sideNode {
				row.Node = m
			} else {
				row.Model = m
			}
		}
		res.Rows = append(res.Rows, row)
	}
	var nodeBase, modelBase float64
	for _, r := range res.Rows {
		if r.Strategy == Baseline {
			nodeBase, modelBase = r.Node.AcceptRPS, r.Model.AcceptRPS
		}
	}
	for i := range res.Rows {
		r := &res.Rows[i]
		if nodeBase > 0 {
			r.Node.AcceptShare = round3(r.Node.AcceptRPS / nodeBase)
		}
		if modelBase > 0 {
			r.Model.AcceptShare = round3(r.Model.AcceptRPS / modelBase)
		}
	}
	return res, nil
}

func nodeVersion(ctx context.Context, node string) (string, error) {
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", node, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ErrNoNode is returned when node or the reference packages are missing.
var ErrNoNode = errors.New("node and the reference servers' packages are needed: run make deps (it installs nodejs and npm with apt, then npm ci in reference/node)")
