package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/liveview"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

// runBench is `offload bench`: every strategy through every scenario, with
// its own redis-servers, mail sink and processes, into OUT/<timestamp>/.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("bench", stderr)
	// The baseline is the capacity ladder's reference row, run first.
	allStrategies := append([]string{harness.Baseline}, catalog.Names()...)
	strats := fs.String("strategies", "all", "comma list of strategies, or all: "+strings.Join(allStrategies, ","))
	scens := fs.String("scenarios", "all", "comma list of scenarios, or all: "+strings.Join(harness.ScenarioOrder, ","))
	variants := fs.String("variants", "default", "default: each strategy's main variants (the durability ones, replica and durable=wait, left out to keep the full bench within 15 minutes); all: every variant")
	quick := fs.Bool("quick", false, "short phases: every strategy through every scenario in about two minutes")
	out := fs.String("out", "out", "results go to OUT/<timestamp>/")
	seed := fs.Int64("seed", 1, "seed for the mail sink's failure draw and Poisson arrivals (runs repeat)")
	target := fs.String("target", "", "measure an externally started server at this URL; its deliveries count only when its mail goes to the sink (address printed at start, or --sink-addr)")
	targetPIDs := fs.String("target-pid", "", "with --target: comma list of the target's process ids (web, workers, redis-servers) whose CPU explains a capacity knee; without it, blame says \"external, not observed\"")
	cpus := fs.String("cpus", "", "LOAD/SUT cpu lists, e.g. 0/1: the bench (generator and mail sink) on LOAD, every process it measures on SUT; off: no pinning (default: from 4 cpus, the last quarter for the load and the rest for the system under test; off below 4)")
	sinkAddr := fs.String("sink-addr", "127.0.0.1:0", "the bench's mail sink SMTP address")
	var over overrides
	fs.DurationVar(&over.duration, "duration", 0, "measured phase per run (0: the preset's)")
	fs.Float64Var(&over.rate, "rate", 0, "io jobs offered per second (0: the preset's)")
	concurrency := fs.Int("concurrency", 0, "--concurrency for every process that sends mail: foreground's and fireforget's web side, every worker (queue: a fixed processor count); 0: each strategy's default")
	var pf providerFlags // the bench's own sink
	pf.register(fs, "sink-", mailsink.DefaultLatency)
	slo := fs.Duration("slo", 50*time.Millisecond, "capacity: a step passes only while HTTP p99 from due stays within this")
	poisson := fs.Bool("poisson", false, "Poisson arrivals (seeded by --seed) instead of a fixed interval")
	generators := fs.Int("generators", 1, "send each run's jobs from this many generator processes, their histograms merged from HdrHistogram interval logs")
	repeat := fs.Int("repeat", 1, "run each (strategy, scenario) this many times, interleaved round-robin; reports show median and spread")
	fs.DurationVar(&over.sendDelayBound, "max-send-delay", harness.DefaultSendDelayBound, "the validity rule's floor: a run (or capacity step) is invalid when the p99 of due -> request written exceeds the larger of this and a tenth of its HTTP p99")
	var lf liveview.Flags
	lf.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	strategies, err := harness.ParseList(*strats, allStrategies, "strategy")
	if err != nil {
		return cli.Usage(err)
	}
	scenarios, err := harness.ParseList(*scens, harness.ScenarioOrder, "scenario")
	if err != nil {
		return cli.Usage(err)
	}
	timing := harness.Full()
	if *quick {
		timing = harness.Quick()
	}
	if err := over.apply(&timing); err != nil {
		return cli.Usage(err)
	}
	if timing.Provider, err = pf.config(); err != nil {
		return err
	}
	if *generators < 1 {
		return cli.Usagef("--generators %d: must be at least 1", *generators)
	}
	if *concurrency < 0 {
		return cli.Usagef("--concurrency %d: must not be negative (0: each strategy's default)", *concurrency)
	}
	if *repeat < 1 {
		return cli.Usagef("--repeat %d: must be at least 1", *repeat)
	}
	timing.Poisson, timing.Seed = *poisson, uint64(*seed)
	if *slo <= 0 {
		return cli.Usagef("--slo %v: must be positive", *slo)
	}
	timing.SLO = *slo
	if *target == "" {
		if err := redisproc.Available(); err != nil {
			return cli.Usage(err)
		}
	} else {
		strategies = []string{"external"}
	}
	if *variants != "default" && *variants != "all" {
		return cli.Usagef("--variants %q: want default or all", *variants)
	}
	pids, err := parsePIDs(*targetPIDs, *target != "")
	if err != nil {
		return cli.Usage(err)
	}
	placement, err := cpuset.ParseSplit(*cpus)
	if err != nil {
		return cli.Usage(err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	uiLn, err := listenLive(lf)
	if err != nil {
		return err
	}
	if uiLn != nil {
		defer uiLn.Close()
	}
	start := time.Now()
	dir := filepath.Join(*out, start.Format("20060102-150405"))
	sinkCfg := timing.Provider
	sinkCfg.Addr, sinkCfg.Seed, sinkCfg.Logger = *sinkAddr, uint64(*seed), newLogger(io.Discard, "sink")
	sink, err := mailsink.Start(sinkCfg)
	if err != nil {
		return cli.Usage(err)
	}
	defer sink.Close()

	progress := liveView(stdout)
	defer closeLiveView()
	var page *liveview.Bench
	if uiLn != nil {
		tee, lb, stop, err := startBenchPage(ctx, uiLn, lf, progress, stderr)
		if err != nil {
			return err
		}
		defer stop()
		progress, page = tee, lb
	}
	b := &harness.Bench{Exe: exe, Out: dir, Sink: sink, Target: *target, TargetPIDs: pids, Placement: placement, AllVariants: *variants == "all", Timing: timing,
		Log: liveLog(stderr), Progress: progress, Repeat: *repeat, Generators: *generators, Concurrency: *concurrency}
	plans, err := b.Plans(strategies, scenarios, *quick)
	if err != nil {
		return cli.Usage(err)
	}
	fmt.Fprintf(stderr, "offload bench: %d runs (%s), results in %s\n", len(plans), presetName(*quick), dir)
	if *target != "" {
		fmt.Fprintf(stderr, "offload bench: mail sink at smtp://%s: point %s's mail there to account deliveries and loss\n", sink.Addr(), *target)
	}
	env := benchEnv(start, *seed, *quick, *target)
	env.Placement = placement.String()
	fmt.Fprintf(stderr, "offload bench: cpus %s (load/system under test; --cpus)\n", env.Placement)
	env.Sink = &results.SinkEnv{Latency: sinkCfg.Latency().String(), MaxConns: sinkCfg.MaxConns, RateLimit: sinkCfg.RateLimit}
	f, err := b.Run(ctx, env, plans)
	if err != nil {
		return err
	}
	latest := filepath.Join(*out, "latest")
	_ = os.Remove(latest)
	_ = os.Symlink(filepath.Base(dir), latest)
	fmt.Fprintf(stderr, "offload bench: %d runs in %.0fs; wrote %s\n", len(f.Runs), time.Since(start).Seconds(),
		filepath.Join(dir, "results.json"))
	if err := renderReport(dir, f, stdout); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if page != nil {
		page.Finish(dir)
	}
	if o := b.Orphans(); len(o) > 0 {
		return fmt.Errorf("processes outlived their runs: %s", strings.Join(o, "; "))
	}
	if ctx.Err() != nil {
		return errors.New("interrupted: results keep what was measured")
	}
	return nil
}

func presetName(quick bool) string {
	if quick {
		return "quick"
	}
	return "full"
}

// overrides are the flags that change a preset's timing.
type overrides struct {
	duration time.Duration
	rate     float64
	// sendDelayBound is the instrument's own limit (harness.Validity).
	sendDelayBound time.Duration
}

func (o overrides) apply(t *harness.Timing) error {
	if o.duration < 0 || o.rate < 0 {
		return errors.New("--duration and --rate must not be negative")
	}
	if o.sendDelayBound <= 0 {
		return errors.New("--max-send-delay must be positive")
	}
	t.SendDelayBound = o.sendDelayBound
	if o.duration > 0 {
		t.Measure = o.duration
		t.FaultMeasure = o.duration + o.duration/5
		t.FaultAt, t.FaultFor = o.duration/3, o.duration/6
		t.HeySteady = o.duration
		t.Hey = max(o.duration, t.Hey)
	}
	if o.rate > 0 {
		t.Rate = o.rate
	}
	return nil
}

// benchEnv records what the numbers were measured on.
func benchEnv(start time.Time, seed int64, quick bool, target string) results.Env {
	host, _ := os.Hostname()
	return results.Env{
		GitSHA: gitSHA(), GoVersion: runtime.Version(), CPUModel: cpuModel(), Cores: runtime.NumCPU(),
		OS: runtime.GOOS, Arch: runtime.GOARCH,
		RedisVersion: redisproc.Version(), Hostname: host, Flags: os.Args, Seed: seed, Start: start,
		Quick: quick, Target: target,
	}
}

func gitSHA() string {
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parsePIDs reads --target-pid: running processes' ids, only beside
// --target (the bench reads its own processes otherwise).
func parsePIDs(list string, target bool) ([]int, error) {
	if list == "" {
		return nil, nil
	}
	if !target {
		return nil, errors.New("--target-pid names an external target's processes: it needs --target")
	}
	var pids []int
	for _, f := range strings.Split(list, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("--target-pid %q: %q is not a process id", list, f)
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil, fmt.Errorf("--target-pid %q: no process %d is running", list, pid)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
