package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/hashslot"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/strategies/queue/resque"
)

// Command is `offload queue stats` (the queue's numbers, for people) and the
// hidden `offload queue peer` (a throughput workload that prints one JSON
// line, so a driver can compare this queue with other job libraries).
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cli.Usagef("usage: offload queue stats [--redis URL] [--namespace NS] [--json]")
	}
	switch args[0] {
	case "stats":
		return runQueueStats(ctx, args[1:], stdout, stderr)
	case "peer":
		return runQueuePeer(ctx, stdout)
	}
	return cli.Usagef("offload queue %s: unknown subcommand; use stats", args[0])
}

func runQueueStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("queue stats", stderr)
	redisURL := fs.String("redis", "redis://127.0.0.1:6379/0", "Redis URL (also REDIS_URL)")
	ns := fs.String("namespace", resque.DefaultNamespace, "Redis key prefix")
	shards := fs.Int("shards", 1, "the queue's number of hash-tagged shards (as given to serve and work)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *shards < 1 || *shards > 1024 {
		return cli.Usagef("--shards %d: want 1 to 1024", *shards)
	}
	c, err := resque.Open(ctx, resque.Options{URL: *redisURL, Namespace: *ns, Shards: *shards})
	if err != nil {
		return cli.Usage(err)
	}
	defer c.Close()
	per, err := c.ShardStats(ctx, Queue)
	if err != nil {
		return err
	}
	s := resque.Sum(per)
	if *asJSON {
		if len(per) > 1 {
			return json.NewEncoder(stdout).Encode(struct {
				resque.Stats
				Shards []resque.Stats `json:"shards"`
			}{s, per})
		}
		return json.NewEncoder(stdout).Encode(s)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "queue\t%s\nwaiting\t%d\noldest wait\t%v\nin flight\t%d\ndelayed\t%d\nfailed (list)\t%d\n",
		s.Queue, s.Length, s.OldestWait.Round(time.Millisecond), s.Inflight, s.Delayed, s.Failed)
	fmt.Fprintf(tw, "processed\t%d\nfailed (total)\t%d\nretries\t%d\nreclaimed\t%d\n\n", s.Processed, s.FailedStat, s.Retries, s.Reclaimed)
	if len(per) > 1 {
		fmt.Fprintf(tw, "SHARD\tNAMESPACE\tSLOT\tWAITING\tIN FLIGHT\tDELAYED\tPROCESSED\n")
		for i, sh := range per {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\n", i, sh.Namespace, hashslot.Slot(sh.Namespace), sh.Length, sh.Inflight, sh.Delayed, sh.Processed)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "WORKER\tALIVE\tIN FLIGHT\tPROCESSED\n")
	for _, w := range s.Workers {
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\n", w.Name, w.Alive, w.Inflight, w.Processed)
	}
	return tw.Flush()
}

// peerJob is the workload's payload.
type peerJob struct {
	ID      string  `json:"id"`
	To      string  `json:"to"`
	Subject string  `json:"subject"`
	Text    string  `json:"text"`
	TS      float64 `json:"ts"`
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func nowMS() float64 { return float64(time.Now().UnixNano()) / 1e6 }

// runQueuePeer runs the workload (enqueue N, process N, then RATE/s
// for SECS s measuring enqueue→handler latency) against our queue package
// with no-op jobs, and prints the one result line.
func runQueuePeer(ctx context.Context, stdout io.Writer) error {
	n, producers, conc := envInt("N", 20000), envInt("PRODUCERS", 10), envInt("CONC", 10)
	prefetch := envInt("OFFLOAD_PREFETCH", 10*conc)
	rate, secs := envInt("RATE", 2000), envInt("SECS", 5)
	limit := time.Duration(envInt("PHASE_TIMEOUT_S", 60)) * time.Second
	c, err := resque.Open(ctx, resque.Options{URL: "redis://" + os.Getenv("REDIS_ADDR"), Namespace: "resque"})
	if err != nil {
		return err
	}
	defer c.Close()
	out := map[string]any{"peer": "offload queue", "version": peerVersion(), "n": n, "producers": producers,
		"concurrency": fmt.Sprintf("%d processors, prefetch %d", conc, prefetch),
		"notes":       "Resque layout; Lua batch claim into a per-worker inflight list, batched Lua acks, status hash per job; at-least-once"}
	var errs []string
	var enqErrs atomic.Int64
	enqueue := func() {
		id := job.NewID()
		raw, _ := resque.Encode("peer", "noop", peerJob{id, "b@example.org", "hi", "hello", nowMS()})
		if err := c.Enqueue(ctx, "peer", id, raw); err != nil {
			enqErrs.Add(1)
		}
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range producers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				enqueue()
			}
		})
	}
	wg.Wait()
	out["enqueue_jobs_s"] = round2(float64(n) / time.Since(t0).Seconds())

	var done, bad atomic.Int64
	var recording atomic.Bool
	lat := make([]float64, rate*secs)
	var latN atomic.Int64
	handle := func(_ context.Context, j resque.Job) error {
		var p peerJob
		if len(j.Payload.Args) != 1 || json.Unmarshal(j.Payload.Args[0], &p) != nil {
			bad.Add(1)
		} else if recording.Load() {
			if i := latN.Add(1) - 1; int(i) < len(lat) {
				lat[i] = nowMS() - p.TS
			}
		}
		done.Add(1)
		return nil
	}
	cons, err := resque.NewConsumer(c, resque.ConsumerConfig{Queue: "peer", Handler: handle, Size: conc,
		Prefetch: prefetch, IdleWait: time.Second,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	waitFor := func(target int64) bool {
		end := time.Now().Add(limit)
		for done.Load() < target {
			if time.Now().After(end) {
				return false
			}
			time.Sleep(time.Millisecond)
		}
		return true
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	consDone := make(chan error, 1)
	t0 = time.Now()
	go func() { consDone <- cons.Run(runCtx) }()
	if !waitFor(int64(n)) {
		errs = append(errs, fmt.Sprintf("process phase timed out at %d of %d", done.Load(), n))
	}
	out["process_jobs_s"] = round2(float64(done.Load()) / time.Since(t0).Seconds())

	m := rate * secs
	base := done.Load()
	recording.Store(true)
	t0 = time.Now()
	for i := range m {
		if d := time.Until(t0.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		wg.Go(enqueue)
	}
	out["mixed_offered_jobs_s"] = round2(float64(m) / time.Since(t0).Seconds())
	wg.Wait()
	if !waitFor(base + int64(m)) {
		errs = append(errs, fmt.Sprintf("mixed phase timed out at %d of %d", done.Load()-base, m))
	}
	got := lat[:min(int(latN.Load()), len(lat))]
	sort.Float64s(got)
	if len(got) > 0 {
		out["p50_ms"] = round2(got[(len(got)-1)*50/100])
		out["p99_ms"] = round2(got[(len(got)-1)*99/100])
	}
	out["mixed_jobs"] = len(got)
	stop()
	if err := <-consDone; err != nil {
		errs = append(errs, "stop: "+err.Error())
	}
	if e := enqErrs.Load(); e > 0 {
		errs = append(errs, fmt.Sprintf("%d enqueue errors", e))
	}
	if e := bad.Load(); e > 0 {
		errs = append(errs, fmt.Sprintf("%d undecodable payloads", e))
	}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(stdout, string(b))
	return nil
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func peerVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}
