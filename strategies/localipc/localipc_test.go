package localipc_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies/strategytest"
)

func TestConformance(t *testing.T) {
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		return startFamily(t, mailsink.Config{}).setup()
	})
}

func TestDelivers200(t *testing.T) {
	f := startFamily(t, mailsink.Config{})
	allOnce(t, f.Sink, strategytest.PostN(t, f.URL, 200, "bulk"))
}

// The web child dies mid-stream: what it accepted is already the leader's;
// the leader restarts it and later jobs flow.
func TestWebChildKilled(t *testing.T) {
	f := startFamily(t, mailsink.Config{Delay: 5 * time.Millisecond}, "--rate", "100")
	before := strategytest.PostN(t, f.URL, 50, "before")
	old := f.kill(t, "serve")
	itest.WaitHTTP(t, f.URL+"/healthz")
	if pid := f.child(t, "serve"); pid == old {
		t.Fatalf("web child pid %d not restarted", pid)
	}
	f.waitWorkerUp(t) // the new web child hears from the leader
	after := strategytest.PostN(t, f.URL, 50, "after")
	allOnce(t, f.Sink, append(before, after...))
}

// The worker dies holding a queue: exactly the jobs in its memory never
// arrive, the leader reports them lost, and later jobs flow.
func TestWorkerKilledLosesItsMemory(t *testing.T) {
	f := startFamily(t, mailsink.Config{}, "--rate", "10", "--concurrency", "1")
	first := strategytest.PostN(t, f.URL, 30, "held")
	itest.Eventually(t, 10*time.Second, "the worker to hold all 30 and deliver some", func() bool {
		return strategytest.Metric(f.URL, "offload_worker_received_total") == 30 && f.Sink.Stats().Received >= 3
	})
	f.kill(t, "work")
	f.waitWorkerUp(t)
	later := strategytest.PostN(t, f.URL, 5, "later")
	allOnce(t, f.Sink, later)

	var missing, reported []string
	for _, id := range first {
		if _, ok := f.Sink.Delivery(id); !ok {
			missing = append(missing, id)
		}
		st := strategytest.Get(t, f.URL, "/jobs/"+id)
		if msg, _ := st.Body["error"].(string); st.Body["status"] == "failed" && strings.HasPrefix(msg, "lost") {
			reported = append(reported, id)
		}
	}
	lost := strategytest.Metric(f.URL, "offload_localipc_lost")
	t.Logf("worker SIGKILLed holding jobs: %d of 30 never arrived; the leader reported %d lost (metric %v)", len(missing), len(reported), lost)
	if len(missing) < 10 {
		t.Fatalf("only %d jobs missing: the worker's queue was not held at the kill", len(missing))
	}
	// Every missing job is one the leader knew was in the worker's memory;
	// at most the one in flight may have arrived before its "done" did.
	rep := map[string]bool{}
	for _, id := range reported {
		rep[id] = true
	}
	for _, id := range missing {
		if !rep[id] {
			t.Errorf("job %s never arrived but was not reported lost", id)
		}
	}
	if d := len(reported) - len(missing); d < 0 || d > 1 || lost != float64(len(reported)) {
		t.Fatalf("reported lost %d (metric %v), missing %d: want equal (±1 in flight)", len(reported), lost, len(missing))
	}
}

// A flaky provider: retries with backoff deliver every job exactly once,
// and the retries show on the web child's /metrics.
func TestFailingSinkStillDeliversOnce(t *testing.T) {
	f := startFamily(t, mailsink.Config{FailRate: 0.3, Seed: 3}, "--backoff", "5ms", "--max-attempts", "30")
	allOnce(t, f.Sink, strategytest.PostN(t, f.URL, 100, "flaky"))
	rejected := f.Sink.Stats().Rejected
	itest.Eventually(t, 5*time.Second, "retries on /metrics to match the sink's rejections", func() bool {
		return strategytest.Metric(f.URL, "offload_worker_retries_total") == float64(rejected)
	})
	if rejected == 0 || strategytest.Metric(f.URL, "offload_worker_failed_total") != 0 {
		t.Fatalf("rejected %d, failed %v: want rejections and no failures", rejected, strategytest.Metric(f.URL, "offload_worker_failed_total"))
	}
	t.Logf("fail-rate 0.3: 100 jobs delivered once after %d rejections/retries", rejected)
}

// Jobs accepted while the worker is down wait in the leader.
func TestJobsWaitInTheLeaderWhileTheWorkerIsDown(t *testing.T) {
	f := startFamily(t, mailsink.Config{})
	f.kill(t, "work")
	ids := strategytest.PostN(t, f.URL, 20, "waiting") // the leader restarts it within a second
	allOnce(t, f.Sink, ids)
}

// Killing the leader takes its children with it.
func TestLeaderKilledLeavesNoOrphans(t *testing.T) {
	f := startFamily(t, mailsink.Config{})
	web, worker := f.child(t, "serve"), f.child(t, "work")
	if err := syscall.Kill(f.leader.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{web, worker} {
		itest.Eventually(t, 5*time.Second, "children to die with the leader", func() bool { return !alive(pid) })
	}
}
