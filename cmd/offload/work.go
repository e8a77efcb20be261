package main

import (
	"context"
	"io"

	"github.com/offload/offload/internal/cli"
)

// runWork runs the worker side of a strategy whose jobs run outside the web
// process. The common flags are registered here; the strategy's catalog
// entry registers its own (concurrency, groups, ...) on the same FlagSet.
func runWork(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("work", stderr)
	var sf strategyFlags
	sf.register(fs, "127.0.0.1:2525")
	httpAddr := fs.String("http", "", "serve /metrics and /debug/lag on this address (empty: none)")
	// The strategy must be known before parsing so its own flags exist:
	// take it from the arguments or the environment first.
	entry, err := sf.preselect(args)
	if err != nil {
		return err
	}
	if entry.Worker == nil {
		return cli.Usagef("strategy %s has no workers: its jobs run in the web process", sf.strategy)
	}
	work := entry.Worker(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := sf.validate(); err != nil {
		return err
	}
	cfg := sf.workConfig()
	cfg.HTTPAddr = *httpAddr
	cfg.Logger = newLogger(stderr, "worker")
	return work(ctx, cfg)
}
