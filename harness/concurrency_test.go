package harness

import (
	"slices"
	"testing"

	"github.com/offload/offload/strategies/catalog"
)

// A run records the concurrency its senders had, and the processes that
// send mail are the ones given --concurrency.
func TestSenderConcurrency(t *testing.T) {
	tests := []struct {
		strategy    string
		set, want   int
		web, worker bool // which process gets --concurrency when set
	}{
		{strategy: "foreground", want: 0, web: true},
		{strategy: "fireforget", set: 6, want: 6, web: true},
		{strategy: "localipc", want: 4, web: true}, // `offload run` passes it on to its worker
		{strategy: "pubsub", want: 4, worker: true},
		{strategy: "eventbus", want: 8, worker: true},
		{strategy: "queue", want: 0, worker: true}, // the autoscaler
		{strategy: "queue", set: 3, want: 3, worker: true},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			e, err := catalog.Lookup(tt.strategy)
			if err != nil {
				t.Fatal(err)
			}
			if got := senderConcurrency(e, tt.set); got != tt.want {
				t.Errorf("concurrency = %d, want %d", got, tt.want)
			}
			env := &Env{cfg: EnvConfig{Entry: e, Strategy: tt.strategy, Concurrency: 5, Loop: "node"}}
			has := func(a []string) bool { return slices.Contains(a, "--concurrency") }
			if got := has(env.webArgs()); got != tt.web {
				t.Errorf("web args %v: --concurrency present = %v, want %v", env.webArgs(), got, tt.web)
			}
			if got := has(env.workerArgs(nil)); got != tt.worker && e.Layout() == catalog.Brokered {
				t.Errorf("worker args %v: --concurrency present = %v, want %v", env.workerArgs(nil), got, tt.worker)
			}
			env.cfg.Concurrency = 0
			if has(env.webArgs()) || has(env.workerArgs(nil)) {
				t.Error("--concurrency passed although the bench left the strategy's default")
			}
		})
	}
}
