package main

import (
	"context"
	"io"

	"github.com/offload/offload/internal/baseline"
	"github.com/offload/offload/internal/cli"
)

// runBaseline is `offload baseline`, hidden from the command list: the
// capacity ladder's reference server, started by the bench.
func runBaseline(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := cli.NewFlagSet("baseline", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address")
	redisURL := fs.String("redis", "", "Redis URL, e.g. redis://127.0.0.1:6379/0")
	loop := fs.String("loop", "", "node: the same handler under the node loop model, paying Node's per-request costs; empty: bare net/http")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *redisURL == "" {
		return cli.Usagef("--redis is required")
	}
	if err := checkRedisURL(*redisURL); err != nil {
		return cli.Usage(err)
	}
	if *loop != "" && *loop != "node" {
		return cli.Usagef("--loop %q: use node, or leave it out for bare net/http", *loop)
	}
	err := baseline.Serve(ctx, baseline.Config{Addr: *addr, RedisURL: *redisURL, Loop: *loop, Logger: newLogger(stderr, "baseline")})
	if err != nil {
		return cli.Usage(err)
	}
	return nil
}
