package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
)

// runGenVsHey is `offload gen-vs-hey`: the bench's generator and rakyll/hey
// side by side against one bare handler (a child process), with the two
// ratios the generator must meet. A benchmark: the numbers depend on the
// machine and on what else runs on it.
func runGenVsHey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("gen-vs-hey", stderr)
	d := fs.Duration("duration", 5*time.Second, "length of each leg")
	c := fs.Int("c", 50, "hey's concurrency (-c)")
	bound := fs.Duration("max-send-delay", harness.DefaultSendDelayBound, "p99 send delay the generator must keep")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *d <= 0 || *c <= 0 || *bound <= 0 {
		return cli.Usagef("--duration, -c and --max-send-delay must be positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	port, err := redisproc.FreePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := proc.Start(proc.Spec{Name: "bare-http", Path: exe, Args: []string{"bare-http", "--addr", addr}, Output: stderr})
	if err != nil {
		return err
	}
	defer func() { _ = p.Kill() }()
	base := "http://" + addr
	if !wait.Until(ctx, 10*time.Second, func() bool { return wait.HTTPOK(ctx, base+"/healthz") }) {
		return errors.New("the bare handler did not answer /healthz within 10s")
	}
	fmt.Fprintf(stdout, "generator vs hey against a bare handler (%s), %v per leg; the machine may be shared, so read the ratios, not the absolute numbers\n", base, *d)
	res, err := harness.GenVsHey(ctx, harness.GenVsHeyConfig{Base: base, Duration: *d, C: *c, Bound: *bound, Log: stdout})
	if err != nil {
		return err
	}
	verdict := func(ok bool) string {
		if ok {
			return "meets the goal"
		}
		return "MISSES the goal"
	}
	fmt.Fprintf(stdout, "\nCPU per request at %.0f req/s: generator %.1f µs, hey %.1f µs: ratio %.2f (goal ≤ 1): %s\n",
		res.Rate, res.Gen.CPUPerReqUS, res.HeyCPUPerReqUS, res.CPURatio(), verdict(res.CPURatio() <= 1))
	fmt.Fprintf(stdout, "schedule kept (p99 send delay ≤ %v) up to %.0f req/s of hey's closed-loop %.0f: ratio %.2f (goal ≥ 0.5): %s\n",
		*bound, res.MaxKeptRPS, res.HeyMaxRPS, res.KeptRatio(), verdict(res.KeptRatio() >= 0.5))
	return nil
}

// runBareHTTP is the hidden `offload bare-http`: a handler that does no
// work, for gen-vs-hey.
func runBareHTTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("bare-http", stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return cli.Usagef("--addr %s: %v", *addr, err)
	}
	srv := &http.Server{Handler: harness.BareHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
