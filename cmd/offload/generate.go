package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/cli"
)

// runGenerate is the hidden `offload generate`: one generator process of
// `offload bench --generators N`, which starts it and reads its files.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("generate", stderr)
	var j harness.GeneratorJob
	fs.StringVar(&j.Base, "base", "", "the server's base URL")
	fs.StringVar(&j.Scenario, "scenario", harness.Steady, "scenario whose load and job mix to send")
	fs.Float64Var(&j.Rate, "rate", 0, "constant rate for the whole run instead of the scenario's (0: the scenario's)")
	timing := fs.String("timing", "", "the bench's timing, JSON")
	fs.DurationVar(&j.Length, "length", 0, "length of the schedule")
	start := fs.Int64("start", 0, "the schedule's start, Unix nanoseconds (the same for every generator)")
	fs.IntVar(&j.Index, "index", 0, "this generator, 0-based")
	fs.IntVar(&j.Of, "of", 1, "number of generators")
	fs.StringVar(&j.Prefix, "prefix", "g-", "job id prefix")
	fs.Uint64Var(&j.Seed, "seed", 1, "seed for Poisson arrivals")
	fs.DurationVar(&j.Timeout, "timeout", 10*time.Second, "per request")
	fs.StringVar(&j.Out, "out", "", "directory for the outcomes, interval log and summary")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if j.Base == "" || j.Out == "" || j.Length <= 0 || *start == 0 {
		return cli.Usagef("--base, --out, --length and --start are required")
	}
	if *timing != "" {
		if err := json.Unmarshal([]byte(*timing), &j.Timing); err != nil {
			return cli.Usagef("--timing: %v", err)
		}
	}
	j.Start = time.Unix(0, *start)
	return harness.RunGenerator(ctx, j)
}
