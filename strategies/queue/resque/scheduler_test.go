package resque_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies/queue/resque"
)

// A scheduler that loses Redis says so once, instead of retrying its lock
// in silence while delayed jobs quietly stop moving.
func TestSchedulerSaysOnceThatItLostItsLock(t *testing.T) {
	srv := itest.Redis(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := resque.Open(ctx, resque.Options{URL: srv.URL(), NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs itest.Output
	s := resque.NewScheduler(c, "sched-test", 20*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	if !wait.Until(ctx, 10*time.Second, func() bool { return strings.Contains(logs.String(), "leader=true") }) {
		t.Fatalf("the scheduler never became leader:\n%s", logs.String())
	}
	srv.Close()
	const lost = "cannot reach its leader lock"
	// Many ticks pass while Redis is gone; the warning stays one line.
	if !wait.Until(ctx, 10*time.Second, func() bool { return strings.Contains(logs.String(), lost) }) {
		t.Fatalf("no warning after Redis went away:\n%s", logs.String())
	}
	deadline := time.Now().Add(200 * time.Millisecond) // ten ticks
	wait.Until(ctx, time.Second, func() bool { return time.Now().After(deadline) })
	if n := strings.Count(logs.String(), lost); n != 1 {
		t.Errorf("the warning was logged %d times, want once per outage:\n%s", n, logs.String())
	}
	cancel()
	<-done
}
