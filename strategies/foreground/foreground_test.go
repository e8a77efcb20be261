package foreground_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/foreground"
	"github.com/offload/offload/strategies/strategytest"
)

func start(t *testing.T, loop string, sinkCfg mailsink.Config) strategytest.Setup {
	sink := itest.Sink(t, sinkCfg)
	s, err := foreground.New(strategies.Config{SMTPAddr: sink.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	return strategytest.Setup{URL: strategytest.Serve(t, s, loop), Sink: sink, Synchronous: true, Slow: strategytest.StallSink(sink)}
}

func TestConformance(t *testing.T) {
	for _, loop := range []string{"node", "go", "threads"} {
		t.Run(loop, func(t *testing.T) {
			strategytest.Exercise(t, func(t *testing.T) strategytest.Setup { return start(t, loop, mailsink.Config{}) })
		})
	}
}

func TestAnswersAfterTheMailArrived(t *testing.T) {
	s := start(t, "node", mailsink.Config{Delay: 20 * time.Millisecond})
	r := strategytest.Post(t, s.URL, strategytest.MailJSON("sync"), "")
	if r.Code != http.StatusOK || r.Body["status"] != "done" {
		t.Fatalf("got %d %v, want 200 done", r.Code, r.Body)
	}
	id := r.Body["id"].(string)
	if _, ok := s.Sink.Delivery(id); !ok {
		t.Fatal("answered 200 before the sink had the mail")
	}
	if st := strategytest.Get(t, s.URL, "/jobs/"+id); st.Code != 200 || st.Body["status"] != "done" {
		t.Fatalf("GET /jobs/%s = %d %v", id, st.Code, st.Body)
	}
}

func TestSMTPFailureIs502(t *testing.T) {
	s := start(t, "node", mailsink.Config{FailRate: 1})
	r := strategytest.Post(t, s.URL, strategytest.MailJSON("fails"), "fail-1")
	if r.Code != http.StatusBadGateway {
		t.Fatalf("status = %d (%v), want 502", r.Code, r.Body)
	}
	if st := strategytest.Get(t, s.URL, "/jobs/fail-1"); st.Body["status"] != "failed" {
		t.Fatalf("GET /jobs/fail-1 = %v, want failed", st.Body)
	}
}

// timeProbe sends /healthz probes back to back while one 300 ms cpu job
// runs and returns the slowest probe and the loop's lag max.
func timeProbe(t *testing.T, loop string) (probe time.Duration, lagMax float64) {
	s := start(t, loop, mailsink.Config{})
	strategytest.Post(t, s.URL, `{"to":"a@example.org"}`, "") // warm the connection pool
	if _, err := http.Post(s.URL+"/debug/lag/reset", "", nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		strategytest.Post(t, s.URL, `{"to":"a@example.org","kind":"cpu","cost_ms":300}`, "")
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			t0 := time.Now()
			if r := strategytest.Get(t, s.URL, "/healthz"); r.Code != 200 {
				t.Fatalf("healthz: %d", r.Code)
			}
			probe = max(probe, time.Since(t0))
		}
	}
	lag := strategytest.Get(t, s.URL, "/debug/lag")
	return probe, lag.Body["max_ms"].(float64)
}

func TestCPUJobBlocksTheNodeLoop(t *testing.T) {
	probe, lagMax := timeProbe(t, "node")
	if probe < 200*time.Millisecond {
		t.Errorf("node: /healthz answered in %v while a 300 ms cpu job ran; want it to wait", probe)
	}
	if lagMax < 250 {
		t.Errorf("node: /debug/lag max = %.1f ms, want >= 250", lagMax)
	}
}

// Under the go model other clients are answered while a cpu job runs: an
// ordering, not a timing bound, so a loaded machine cannot fail it (under
// node, not one probe comes back before the job's own answer).
func TestCPUJobDoesNotBlockGoModel(t *testing.T) {
	s := start(t, "go", mailsink.Config{})
	strategytest.Post(t, s.URL, `{"to":"a@example.org"}`, "") // warm the connection pool
	done := make(chan struct{})
	go func() {
		defer close(done)
		strategytest.Post(t, s.URL, `{"to":"a@example.org","kind":"cpu","cost_ms":1000}`, "")
	}()
	answered := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			if r := strategytest.Get(t, s.URL, "/healthz"); r.Code != 200 {
				t.Fatalf("healthz: %d", r.Code)
			}
			select {
			case <-done:
				running = false // this probe may have waited for the job: not counted
			default:
				answered++
			}
		}
	}
	if answered < 3 {
		t.Errorf("go: %d /healthz probes answered while a 1 s cpu job ran; want them answered alongside it", answered)
	}
}

func TestThreadsModelQueuesBeyondItsWorkers(t *testing.T) {
	sink := itest.Sink(t, mailsink.Config{Delay: 300 * time.Millisecond})
	s, err := foreground.New(strategies.Config{SMTPAddr: sink.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	// Two request workers, as with --threads 2.
	url := strategytest.ServeThreads(t, s, 2)
	var wg sync.WaitGroup
	took := make([]time.Duration, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			strategytest.Post(t, url, strategytest.MailJSON(fmt.Sprint(i)), "")
			took[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	slow := 0
	for _, d := range took {
		if d >= 550*time.Millisecond {
			slow++
		}
	}
	if slow != 1 {
		t.Fatalf("request times %v: want exactly one to wait for a free thread (>= 2 x 300 ms)", took)
	}
}
