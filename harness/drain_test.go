package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/results"
)

// TestDrainDeliversExactlyK fills a backlog of K jobs with the queue's
// workers held back, starts two real worker processes against a real
// redis-server and the real sink, and wants exactly K deliveries: none
// before the workers started, none missing, none twice.
func TestDrainDeliversExactlyK(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	itest.NeedRedis(t)
	bin := itest.Binary(t)
	sink := itest.Sink(t, mailsink.Config{})
	timing := harness.Quick()
	timing.ScaleWorkers = []int{2}
	timing.ScaleDrain = harness.DrainPlan{PerWorker: 150, Concurrency: 4, Bound: time.Minute}
	b := &harness.Bench{Exe: bin, Out: t.TempDir(), Sink: sink, Timing: timing}
	plans, err := b.Plans([]string{"queue"}, []string{harness.Scale}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || plans[0].Workers != 2 || plans[0].NA != "" {
		t.Fatalf("plans %+v, want one run at 2 workers", plans)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := b.Run(ctx, results.Env{}, plans)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Runs[0]
	d := r.Drain
	if d == nil {
		t.Fatalf("run has no drain: invalid %q, notes %v", r.Invalid, r.Notes)
	}
	const k = 300
	if d.Jobs != k || d.Accepted != k {
		t.Fatalf("backlog: %d sent, %d accepted, want %d of %d", d.Jobs, d.Accepted, k, k)
	}
	if d.Early != 0 {
		t.Errorf("%d delivered before the workers started", d.Early)
	}
	if d.Delivered != k || d.Duplicates != 0 || !d.Complete {
		t.Errorf("delivered %d (duplicates %d, complete %v), want exactly %d once each", d.Delivered, d.Duplicates, d.Complete, k)
	}
	if st := sink.Stats(); st.Received != k {
		t.Errorf("the sink received %d messages, want %d", st.Received, k)
	}
	if d.RPS <= 0 || d.DrainS <= 0 || d.Workers != 2 || d.Concurrency != 4 {
		t.Errorf("drain %+v: want a rate over a measured span at 2 workers x 4 senders", d)
	}
	if d.CPUMSPerJob["workers"] <= 0 || d.CPUMSPerJob["broker"] <= 0 {
		t.Errorf("cpu per delivery %v: the workers and redis were not sampled", d.CPUMSPerJob)
	}
	if r.Lost != 0 || r.Delivered != k {
		t.Errorf("run totals: delivered %d, lost %d", r.Delivered, r.Lost)
	}
	itest.AssertNoOrphans(t)
}
