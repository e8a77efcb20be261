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

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/results"
)

// runPlacement is `offload placement` (make placement): the measurement the
// bench's default CPU split is chosen by. It runs the same quick bench
// once under each split, one after the other, and writes their summaries
// to a JSON file the docs read. Run it by hand on a new kind of machine,
// not before every bench: the default must stay put for runs to compare.
func runPlacement(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("placement", stderr)
	out := fs.String("out", results.PlacementFile, "write the measurement here")
	runs := fs.String("runs", "out/placement", "each split's bench goes to RUNS/<split>/")
	splits := fs.String("splits", "off,0/1,1/0", "comma list of --cpus values to compare")
	strats := fs.String("strategies", "baseline,foreground,fireforget,localipc,queue,eventbus", "the strategies each bench runs")
	from := fs.String("from", "", "comma list of bench result dirs (each with results.json) to summarize instead of running the benches")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	benchArgs := []string{"bench", "--quick", "--scenarios", "steady,cpu,capacity", "--strategies", *strats, "--ui", "off"}
	p := &results.Placement{Command: "offload " + strings.Join(benchArgs, " ") + " --cpus SPLIT, for each of " + *splits}
	start := time.Now()
	if *from != "" {
		p.Command += " (summarized with offload placement --from)"
		for _, dir := range strings.Split(*from, ",") {
			f, err := results.Read(filepath.Join(dir, "results.json"))
			if err != nil {
				return cli.Usage(err)
			}
			p.Splits = append(p.Splits, results.SummarizePlacement(f))
		}
		return writePlacement(stdout, *out, p, start)
	}
	for _, split := range strings.Split(*splits, ",") {
		dir := filepath.Join(*runs, strings.ReplaceAll(split, "/", "-"))
		cmd := exec.CommandContext(ctx, exe, append(benchArgs, "--cpus", split, "--out", dir)...)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		fmt.Fprintf(stderr, "offload placement: --cpus %s\n", split)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bench under --cpus %s: %w", split, err)
		}
		f, err := results.Read(filepath.Join(dir, "latest", "results.json"))
		if err != nil {
			return err
		}
		p.Splits = append(p.Splits, results.SummarizePlacement(f))
	}
	return writePlacement(stdout, *out, p, start)
}

func writePlacement(stdout io.Writer, out string, p *results.Placement, start time.Time) error {
	if err := results.WritePlacement(out, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s); make docs-numbers puts it into docs/measuring.md\n", out, time.Since(start).Round(time.Second))
	return nil
}
