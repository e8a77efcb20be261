package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/queue"
	"github.com/offload/offload/strategies/strategytest"
)

var quiet = slog.New(slog.DiscardHandler)

// startWorker runs an in-process multi-worker until t ends.
func startWorker(t *testing.T, url, ns, smtp string, o queue.WorkOptions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		o.Namespace = ns
		done <- queue.Work(ctx, o, strategies.WorkConfig{RedisURL: url, SMTPAddr: smtp, Logger: quiet})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

func defaults() queue.WorkOptions {
	return queue.WorkOptions{Concurrency: 8, Min: 1, Max: 8, CheckInterval: 500 * time.Millisecond,
		ReclaimAfter: 5 * time.Second, Retries: 8, MaxDeliveries: 5, Batch: 100, Scheduler: true,
		BackoffBase: 100 * time.Millisecond}
}

func setup(t *testing.T, rs *redisproc.Server, loop string, sinkCfg mailsink.Config) strategytest.Setup {
	sink := itest.Sink(t, sinkCfg)
	ns := "t" + t.Name()[len(t.Name())-6:] + time.Now().Format("150405.000000")
	s, err := queue.NewWith(strategies.Config{RedisURL: rs.URL(), Logger: quiet}, queue.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, rs.URL(), ns, sink.Addr(), defaults())
	return strategytest.Setup{URL: strategytest.Serve(t, s, loop), Sink: sink, Slow: strategytest.PauseRedis(rs.URL())}
}

// The queue spread over three shards on a real 3-master cluster (each
// master with a replica) behaves like the single-Redis one.
func TestConformanceCluster(t *testing.T) {
	cl := itest.Cluster(t, rediscluster.Config{})
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		sink := itest.Sink(t, mailsink.Config{})
		ns := "t" + time.Now().Format("150405.000000")
		s, err := queue.NewWith(strategies.Config{RedisURL: cl.URL(), Logger: quiet}, queue.Options{Namespace: ns, Shards: 3})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			o := defaults()
			o.Namespace, o.Shards = ns, 3
			done <- queue.Work(ctx, o, strategies.WorkConfig{RedisURL: cl.URL(), SMTPAddr: sink.Addr(), Logger: quiet})
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
		return strategytest.Setup{URL: strategytest.Serve(t, s, "go"), Sink: sink}
	})
}

func TestConformance(t *testing.T) {
	rs := itest.Redis(t)
	for _, loop := range []string{"node", "go"} {
		t.Run(loop, func(t *testing.T) {
			strategytest.Exercise(t, func(t *testing.T) strategytest.Setup { return setup(t, rs, loop, mailsink.Config{}) })
		})
	}
}

func TestJobStatusAndDelay(t *testing.T) {
	rs := itest.Redis(t)
	s := setup(t, rs, "go", mailsink.Config{})
	t0 := time.Now()
	r := strategytest.Post(t, s.URL, `{"to":"a@example.org","subject":"later","delay_ms":1500}`, "")
	if r.Code != http.StatusAccepted {
		t.Fatalf("delayed job: %d %v", r.Code, r.Body)
	}
	id := r.Body["id"].(string)
	if st := strategytest.Get(t, s.URL, "/jobs/"+id); st.Body["status"] != "queued" {
		t.Fatalf("delayed job status %v, want queued", st.Body)
	}
	strategytest.WaitDelivered(t, s.Sink, []string{id}, 10*time.Second)
	d, _ := s.Sink.Delivery(id)
	if late := d.First.Sub(t0); late < time.Second || late > 4*time.Second {
		t.Fatalf("delayed 1500ms job delivered after %v", late)
	}
	itest.Eventually(t, 5*time.Second, "status done", func() bool {
		st := strategytest.Get(t, s.URL, "/jobs/"+id)
		return st.Body["status"] == "done" && st.Body["attempts"] == float64(1)
	})
}

// A mail server that refuses for a while: the job is retried with backoff
// through the delayed set and delivered once it recovers.
func TestRetriesWithBackoff(t *testing.T) {
	rs := itest.Redis(t)
	s := setup(t, rs, "go", mailsink.Config{})
	s.Sink.Outage(1500 * time.Millisecond)
	r := strategytest.Post(t, s.URL, strategytest.MailJSON("retry me"), "")
	id := r.Body["id"].(string)
	if !itest.Poll(20*time.Second, func() bool { _, ok := s.Sink.Delivery(id); return ok }) {
		t.Fatalf("not delivered; status %v", strategytest.Get(t, s.URL, "/jobs/"+id).Body)
	}
	itest.Eventually(t, 5*time.Second, "attempts > 1", func() bool {
		st := strategytest.Get(t, s.URL, "/jobs/"+id)
		a, _ := st.Body["attempts"].(float64)
		return st.Body["status"] == "done" && a > 1
	})
}

func TestUnreachableRedis(t *testing.T) {
	_, err := queue.New(strategies.Config{RedisURL: "redis://" + itest.FreeAddr(t) + "/0"})
	if err == nil {
		t.Fatal("New with no Redis listening succeeded; want an error")
	}
}

// While Redis is down the web side answers 503, never a 202 for a job it
// did not store.
func TestUnavailableWhileRedisDown(t *testing.T) {
	rs := itest.Redis(t)
	s, err := queue.NewWith(strategies.Config{RedisURL: rs.URL(), Logger: quiet}, queue.Options{Namespace: "down"})
	if err != nil {
		t.Fatal(err)
	}
	url := strategytest.Serve(t, s, "node")
	if err := rs.Kill(); err != nil {
		t.Fatal(err)
	}
	r := strategytest.Post(t, url, strategytest.MailJSON("nowhere"), "")
	if r.Code != http.StatusServiceUnavailable {
		t.Fatalf("POST with Redis down: %d %v, want 503", r.Code, r.Body)
	}
	st, err := s.(strategies.Tracker).State(context.Background(), "x")
	if !errors.Is(err, strategies.ErrUnavailable) {
		t.Fatalf("State with Redis down: %v %v", st, err)
	}
}
