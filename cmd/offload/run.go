package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/liveview"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies"
)

// runSinkLatency is the sink `offload run` starts: 50 ms per message, slow
// enough that a person at a terminal sees foreground wait for it.
var runSinkLatency = mailsink.Latency{Median: 50 * time.Millisecond}

// runRun starts everything one strategy needs — its own redis-server and
// mail sink unless given, the web server and its workers as child processes
// — keeps the children running (restarting any that die, every second) and
// stops all of it on Ctrl-C.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("run", stderr)
	var sf strategyFlags
	sf.register(fs, "")
	var wf webFlags
	wf.register(fs)
	workers := fs.Int("workers", 1, "worker processes, for strategies that have them")
	fs.IntVar(workers, "consumers", 1, "the same as --workers (the event bus calls its workers consumers)")
	var pf providerFlags // the sink offload starts when --smtp is not given
	pf.register(fs, "sink-", runSinkLatency)
	redisCluster := fs.Bool("redis-cluster", false, "start a local Redis Cluster (3 masters with a replica each: 6 redis-server processes) instead of one redis-server")
	var lf liveview.Flags
	lf.Register(fs)
	var runHook func(context.Context, strategies.RunConfig) error
	var webFlags, workerFlags []string
	own := flagNames(fs)
	if e, err := sf.preselect(args); err == nil && e.Run != nil {
		runHook = e.Run(fs) // a strategy that supervises its own children
	} else if err == nil {
		webFlags = adoptFlags(fs, own, "web", func(wfs *flag.FlagSet) { e.WebConstructor(wfs) })
		if e.Worker != nil {
			workerFlags = adoptFlags(fs, own, "worker", func(wfs *flag.FlagSet) { e.Worker(wfs) })
		}
	}
	if fs.Lookup("concurrency") == nil {
		// No worker takes it: the web process sends the mail (foreground,
		// fireforget), so --concurrency caps its sends.
		fs.Int("concurrency", 0, sendCapUsage)
		webFlags = append(webFlags, "concurrency")
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	webOwn, workerArgs := setFlags(fs, webFlags), setFlags(fs, workerFlags)
	entry, err := sf.validate()
	if err != nil {
		return err
	}
	if err := wf.validate(); err != nil {
		return err
	}
	sinkCfg, err := pf.config()
	if err != nil {
		return err
	}
	if *workers < 0 {
		return cli.Usagef("--workers %d: must not be negative", *workers)
	}
	if *redisCluster {
		if !entry.WantsRedis(sf.transport) {
			return cli.Usagef("--redis-cluster: strategy %s uses no Redis here", sf.strategy)
		}
		if sf.redis != "" {
			return cli.Usagef("--redis-cluster starts a cluster and --redis names one: give one of them")
		}
		if err := rediscluster.Available(); err != nil {
			return cli.Usage(err)
		}
	}
	if err := addrFree(wf.addr); err != nil {
		return err
	}
	log := newLogger(stderr, "run")
	uiLn, err := listenLive(lf)
	if err != nil {
		return err
	}
	if uiLn != nil {
		defer uiLn.Close()
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}

	kids := &runChildren{http: map[string]string{}}
	redisInfo := ""
	if *redisCluster {
		cl, err := rediscluster.Start(ctx, rediscluster.Config{AppendOnly: true})
		if err != nil {
			return fmt.Errorf("start redis cluster: %w", err)
		}
		defer cl.Close()
		sf.redis, kids.cluster = cl.URL(), cl
		if redisInfo, err = clusterInfo(ctx, cl); err != nil {
			return err
		}
		// Spread the strategy over the masters unless the user chose.
		spread := unsetFlags(fs, entry.ClusterArgs)
		webOwn, workerArgs = append(webOwn, spread...), append(workerArgs, spread...)
	} else if entry.WantsRedis(sf.transport) && sf.redis == "" {
		srv, err := redisproc.Start(ctx, redisproc.Config{AppendOnly: true})
		if err != nil {
			return cli.Usage(err)
		}
		defer srv.Close()
		sf.redis = srv.URL()
		kids.redis = srv
	}
	sinkInfo := "given: " + sf.smtp
	var delivered func() int64
	if sf.smtp == "" {
		sinkCfg.Logger = log
		sink, err := mailsink.Start(sinkCfg)
		if err != nil {
			return err
		}
		defer sink.Close()
		sf.smtp = sink.Addr()
		stats, stop, err := serveSinkStats(sink)
		if err != nil {
			return err
		}
		defer stop()
		sinkInfo = fmt.Sprintf("smtp %s, deliveries at %s", sink.Addr(), stats)
		delivered = func() int64 { return int64(sink.Stats().Unique) }
	}

	webArgs := append(wf.args(), append(sf.args(), webOwn...)...)
	if runHook != nil {
		if uiLn != nil { // the strategy supervises its own children: the page shows its numbers, not its processes
			stop, err := startRunPage(ctx, uiLn, lf, liveview.RunConfig{Strategy: sf.strategy, Loop: wf.loop, WebURL: "http://" + wf.addr,
				Delivered: delivered, Processes: func() []liveview.Proc { return nil }}, stdout, log)
			if err != nil {
				return err
			}
			defer stop()
		}
		return runHook(ctx, strategies.RunConfig{
			Executable: exe,
			WebArgs:    webArgs,
			WorkArgs:   append([]string{"work"}, sf.args()...),
			WebURL:     "http://" + wf.addr,
			SinkInfo:   sinkInfo,
			Stdout:     stdout, Stderr: stderr, Logger: log,
		})
	}
	sup := proc.NewSupervisor(time.Second, log)
	kids.sup = sup
	// addChild starts a child; workers also serve /metrics and /debug/lag
	// on a port of their own when the live page reads them.
	addChild := func(spec proc.Spec, worker bool) error {
		if worker && uiLn != nil {
			addr, err := freeHTTP()
			if err != nil {
				return err
			}
			spec.Args = append(spec.Args, "--http", addr)
			kids.http[spec.Name] = "http://" + addr
		}
		kids.names = append(kids.names, spec.Name)
		_, err := sup.Add(spec)
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		sup.Stop(sctx)
	}()
	kids.http["web"] = "http://" + wf.addr
	if err := addChild(proc.Spec{Name: "web", Path: exe, Args: webArgs, Output: stderr}, false); err != nil {
		return err
	}
	if entry.HasWorkers() {
		for i := 1; i <= *workers; i++ {
			args := append(append([]string{"work"}, sf.args()...), workerArgs...)
			spec := proc.Spec{Name: fmt.Sprintf("worker-%d", i), Path: exe, Args: args, Output: stderr}
			if err := addChild(spec, true); err != nil {
				return err
			}
		}
		for _, role := range slices.Sorted(maps.Keys(entry.Extra)) {
			args := append(append(append([]string{"work"}, sf.args()...), workerArgs...), entry.Extra[role]...) // extra's own flags win
			spec := proc.Spec{Name: role, Path: exe, Args: args, Output: stderr}
			if err := addChild(spec, true); err != nil {
				return err
			}
		}
	}
	base := "http://" + wf.addr
	if !wait.Until(ctx, 30*time.Second, func() bool { return wait.HTTPOK(ctx, base+"/healthz") }) {
		return errors.New("web server did not answer /healthz within 30s (see its log above)")
	}
	fmt.Fprintf(stdout, "offload run: strategy %s, loop %s\n", sf.strategy, wf.loop)
	fmt.Fprintf(stdout, "  web    %s  (pid %d)\n", base, sup.Process("web").PID())
	fmt.Fprintf(stdout, "  mail   %s\n", sinkInfo)
	if redisInfo != "" {
		fmt.Fprint(stdout, redisInfo)
	} else if sf.redis != "" {
		fmt.Fprintf(stdout, "  redis  %s\n", sf.redis)
	}
	if entry.HasWorkers() {
		fmt.Fprintf(stdout, "  workers %d\n", *workers)
		for _, role := range slices.Sorted(maps.Keys(entry.Extra)) {
			fmt.Fprintf(stdout, "  %-6s %s\n", role, strings.Join(entry.Extra[role], " "))
		}
	}
	if uiLn != nil {
		stop, err := startRunPage(ctx, uiLn, lf, liveview.RunConfig{Strategy: sf.strategy, Loop: wf.loop, WebURL: base,
			Delivered: delivered, Processes: kids.processes, Actions: kids.actions()}, stdout, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "try:\n  curl -s -X POST %s/jobs -d '{\"to\":\"you@example.org\",\"subject\":\"hi\",\"text\":\"hello\"}'\n", base)
	fmt.Fprintf(stdout, "  curl -s %s/debug/lag\nCtrl-C stops everything.\n", base)
	<-ctx.Done()
	log.Info("stopping")
	return nil
}

// addrFree refuses an address something already listens on, before any
// child starts: otherwise run would wait for a 200 from /healthz, get it
// from the old server, and print its banner while every curl reached that
// old server.
func addrFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return cli.Usagef("--addr %s is already in use (an earlier offload run or serve?): stop it, or pick another --addr", addr)
	}
	if err != nil {
		return cli.Usagef("--addr %s: %w", addr, err)
	}
	return ln.Close()
}

// clusterInfo is the banner's description of a cluster run started: each
// master with its replicas, and the address any further worker can join by.
func clusterInfo(ctx context.Context, cl *rediscluster.Cluster) (string, error) {
	shards, err := cl.Shards(ctx)
	if err != nil {
		return "", fmt.Errorf("redis cluster: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  redis  cluster of %d nodes; more workers join with --redis redis://%s\n", len(cl.Nodes()), cl.Nodes()[0].Addr())
	for _, sh := range shards {
		var reps []string
		for _, r := range sh.Replicas {
			reps = append(reps, fmt.Sprintf("%s (pid %d)", r.Addr(), r.PID()))
		}
		fmt.Fprintf(&b, "         master %s (pid %d), slots %s; replica %s\n", sh.Master.Addr(), sh.Master.PID(), slotRanges(sh.Slots), strings.Join(reps, ", "))
	}
	return b.String(), nil
}

func slotRanges(rs [][2]int) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d-%d", r[0], r[1])
	}
	return strings.Join(out, ",")
}

// unsetFlags keeps the --name value pairs of args whose flag the command
// line did not set.
func unsetFlags(fs *flag.FlagSet, args []string) []string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var out []string
	for i := 0; i+1 < len(args); i += 2 {
		if !set[strings.TrimLeft(args[i], "-")] {
			out = append(out, args[i], args[i+1])
		}
	}
	return out
}

// serveSinkStats serves the sink's JSON on a free loopback port.
func serveSinkStats(sink *mailsink.Sink) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("mail sink stats: %w", err)
	}
	srv := &http.Server{Handler: sink.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/deliveries", func() { _ = srv.Close() }, nil
}

// adoptFlags lets `offload run` take flags a strategy registers for one
// kind of child (its web side's `--partitions`, its workers' `--max 10`)
// and pass them on to every child of that kind. It returns their names. A
// name run itself has (own) keeps run's meaning and is not passed on; a
// name both kinds register (the queue's --namespace) is one flag, passed
// to both.
func adoptFlags(fs *flag.FlagSet, own map[string]bool, kind string, register func(*flag.FlagSet)) []string {
	cfs := flag.NewFlagSet(kind, flag.ContinueOnError)
	register(cfs)
	var names []string
	cfs.VisitAll(func(f *flag.Flag) {
		if own[f.Name] {
			return
		}
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, kind+": "+f.Usage)
		}
		names = append(names, f.Name)
	})
	return names
}

func flagNames(fs *flag.FlagSet) map[string]bool {
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}

// setFlags renders the named flags that were set on the command line (or
// through the environment) as --name=value arguments for a child process.
func setFlags(fs *flag.FlagSet, names []string) []string {
	var out []string
	for _, n := range names {
		f := fs.Lookup(n)
		if f != nil && f.Value.String() != f.DefValue {
			out = append(out, "--"+n+"="+f.Value.String())
		}
	}
	return out
}
