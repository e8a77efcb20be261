package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/reports"
	"github.com/offload/offload/results"
)

// runNodeVsModel is `offload node-vs-model` (make node-vs-model): the
// talk's programs on real Node beside offload's servers under --loop node,
// measured the same way on the same CPUs, written to a JSON file the docs
// read. A benchmark: its numbers depend on the machine.
func runNodeVsModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("node-vs-model", stderr)
	nodeDir := fs.String("node-dir", "reference/node", "the reference servers, their packages installed (npm ci)")
	out := fs.String("out", "docs/data/node-vs-model.json", "write the table's data here")
	runs := fs.String("runs", "out/node-vs-model", "the cpu benches' results and every process's log go here")
	strats := fs.String("strategies", strings.Join(harness.NodeVsModelStrategies(), ","), "comma list, baseline first: "+strings.Join(harness.NodeVsModelStrategies(), ","))
	accept := fs.Duration("duration", 5*time.Second, "the closed-loop accept measurement, per server")
	c := fs.Int("c", 50, "hey's concurrency")
	cpus := fs.String("cpus", "", "LOAD/SUT cpu lists, e.g. 0/1: this process and its bench on LOAD, servers and redis on SUT; off: no pinning (default: from 4 cpus, the last quarter for the load and the rest for the servers; off below 4)")
	minP := fs.Int("min", 1, "the queue's fewest processors, on both sides")
	maxP := fs.Int("max", 20, "the queue's most processors, on both sides")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	strategies, err := harness.ParseList(*strats, harness.NodeVsModelStrategies(), "strategy")
	if err != nil {
		return cli.Usage(err)
	}
	if strategies[0] != harness.Baseline {
		strategies = append([]string{harness.Baseline}, strategies...)
	}
	if *accept <= 0 || *c <= 0 || *minP < 1 || *maxP < *minP {
		return cli.Usagef("--duration and -c must be positive, 1 ≤ --min ≤ --max")
	}
	split, err := cpuset.ParseSplit(*cpus)
	if err != nil {
		return cli.Usage(err)
	}
	var load, sut cpuset.Set
	if split != nil {
		load, sut = split.Load, split.SUT
	}
	if err := redisproc.Available(); err != nil {
		return cli.Usage(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return cli.Usage(harness.ErrNoNode)
	}
	if _, err := os.Stat(filepath.Join(*nodeDir, "node_modules", "node-resque")); err != nil {
		return cli.Usage(harness.ErrNoNode)
	}
	absDir, err := filepath.Abs(*nodeDir)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	start := time.Now()
	fmt.Fprintf(stdout, "node-vs-model: %s on real Node and under --loop node; the machine may be shared, so read the ratios\n", strings.Join(strategies, ", "))
	res, err := harness.NodeVsModel(ctx, harness.NodeVsModelConfig{Exe: exe, Node: node, NodeDir: absDir, Strategies: strategies,
		Accept: *accept, C: *c, Load: load, SUT: sut, Min: *minP, Max: *maxP, Out: *runs, Log: stdout})
	if err != nil {
		return err
	}
	res.Env = benchEnv(start, 0, false, "")
	res.Env.End = time.Now()
	fmt.Fprintf(stdout, "\n%s\n", reports.MarkdownTable(reports.NodeVsModelTable(res)))
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if err := results.WriteNodeVsModel(*out, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s); make docs-numbers puts it into docs/event-loop.md\n", *out, time.Since(start).Round(time.Second))
	return nil
}
