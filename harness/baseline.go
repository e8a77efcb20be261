package harness

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/results"
)

// Baseline is the capacity ladder's reference row: not a strategy but a
// bare net/http handler answering 202 after one LPUSH (`offload baseline`),
// on the same kind of Redis the strategies get, so that every strategy's
// accept capacity reads as a fraction of the fastest honest accept path.
const Baseline = "baseline"

// baselineNA is why the reference row runs only the capacity ladder.
const baselineNA = "reference row: the bare handler only enqueues, so only the capacity ladder measures it"

// baselineStyle draws the reference row first, in black, dashed: a yardstick
// beside the strategies, not one of them.
func baselineStyle() *results.Style {
	return &results.Style{Order: -1, Label: "baseline (net/http + LPUSH)", Color: "#000000", Dash: []float64{6, 3}}
}

// StartBaseline starts a redis-server and `offload baseline` in front of it.
// Both are pinned to cpus when it is set.
func StartBaseline(ctx context.Context, exe string, output io.Writer, cpus cpuset.Set) (env *Env, err error) {
	if output == nil {
		output = io.Discard
	}
	e := &Env{cfg: EnvConfig{Exe: exe, Strategy: Baseline, Output: output, Ready: 20 * time.Second, CPUs: cpus}, seen: map[int]bool{}}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	port, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	e.addr = "127.0.0.1:" + strconv.Itoa(port)
	if e.redis, err = redisproc.Start(ctx, redisproc.Config{AppendOnly: true, CPUs: cpus}); err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	e.all = append(e.all, e.redis.Process())
	if e.web, err = e.start("web", []string{"baseline", "--addr", e.addr, "--redis", e.redis.URL()}); err != nil {
		return nil, err
	}
	if err := e.waitHealthy(ctx); err != nil {
		return nil, err
	}
	return e, nil
}
