package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/strategies/strategytest"
)

// rig is a real deployment: redis-server, the mail sink, and offload serve /
// offload work as separate processes.
type rig struct {
	t     *testing.T
	redis *redisproc.Server
	sink  *mailsink.Sink
	addr  string
	n     int
}

func newRig(t *testing.T, sinkDelay time.Duration) *rig {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	return &rig{t: t, redis: itest.Redis(t, itest.AppendOnly()), sink: itest.Sink(t, mailsink.Config{Delay: sinkDelay}), addr: itest.FreeAddr(t)}
}

func (r *rig) common() []string {
	return []string{"--strategy", "queue", "--redis", r.redis.URL(), "--smtp", r.sink.Addr()}
}

func (r *rig) web() *proc.Process {
	p := itest.Start(r.t, "web", append([]string{"serve", "--addr", r.addr, "--loop", "go"}, r.common()...)...)
	itest.WaitHTTP(r.t, "http://"+r.addr+"/healthz")
	return p
}

func (r *rig) worker(extra ...string) *proc.Process {
	r.n++
	return itest.Start(r.t, fmt.Sprintf("worker-%d", r.n), append(append([]string{"work"}, r.common()...), extra...)...)
}

// stream posts io jobs from 8 clients until want were accepted (202),
// calling at(k) once when the k-th is accepted; errors and 503s are
// retried as new jobs. Returns the accepted ids.
func (r *rig) stream(want, k int, at func()) []string {
	var mu sync.Mutex
	var ids []string
	var n, seq atomic.Int64
	var once sync.Once
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for range 8 {
		wg.Go(func() {
			for n.Load() < int64(want) && time.Now().Before(deadline) {
				body := strategytest.MailJSON(fmt.Sprintf("m%d", seq.Add(1)))
				resp, err := client.Post("http://"+r.addr+"/jobs", "application/json", strings.NewReader(body))
				if err != nil {
					time.Sleep(20 * time.Millisecond) // web restarting: a client backing off, not a wait for a condition
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					continue
				}
				id := jsonField(string(raw), "id")
				mu.Lock()
				if len(ids) < want {
					ids = append(ids, id)
				}
				got := len(ids)
				mu.Unlock()
				n.Store(int64(got))
				if got >= k && at != nil {
					once.Do(at)
				}
			}
		})
	}
	wg.Wait()
	if len(ids) < want {
		r.t.Fatalf("only %d of %d jobs accepted within 60s", len(ids), want)
	}
	return ids
}

func jsonField(body, name string) string {
	i := strings.Index(body, `"`+name+`":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(name)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}

// checkDelivered waits for every id and returns the duplicates among them.
func (r *rig) checkDelivered(ids []string) int {
	strategytest.WaitDelivered(r.t, r.sink, ids, 60*time.Second)
	dups := 0
	for _, id := range ids {
		d, _ := r.sink.Delivery(id)
		dups += d.Count - 1
	}
	return dups
}

// SIGKILL a worker that holds in-flight jobs: a second worker reclaims them
// after --reclaim-after; every job is delivered, duplicates bounded by what
// the dead worker held (processors + prefetch).
func TestWorkerKilledLosesNothing(t *testing.T) {
	r := newRig(t, 20*time.Millisecond)
	r.web()
	w1 := r.worker("--concurrency", "20", "--reclaim-after", "2s")
	ids := r.stream(1000, 1000, nil)
	itest.Eventually(t, 30*time.Second, "300 deliveries", func() bool { return r.sink.Stats().Unique >= 300 })
	if err := w1.Kill(); err != nil {
		t.Fatal(err)
	}
	r.worker("--concurrency", "20", "--reclaim-after", "2s")
	dups := r.checkDelivered(ids)
	t.Logf("1000 of 1000 delivered after SIGKILL; %d duplicates (bound 40: 20 processors + 20 prefetched)", dups)
	if dups > 40 {
		t.Fatalf("%d duplicates, more than the 40 the killed worker could hold", dups)
	}
}

// SIGKILL the web process mid-stream: every job that got a 202 is delivered.
func TestWebKilledLosesNoAcceptedJob(t *testing.T) {
	r := newRig(t, 2*time.Millisecond)
	web := r.web()
	r.worker("--concurrency", "20")
	ids := r.stream(1000, 300, func() {
		_ = web.Kill()
		<-web.Done()
		web = r.web()
	})
	dups := r.checkDelivered(ids)
	t.Logf("1000 of 1000 accepted jobs delivered across a web SIGKILL; %d duplicates", dups)
}

// Restart redis-server (appendonly yes, appendfsync always; killed hard)
// mid-stream: every job that got a 202 is delivered.
func TestRedisRestartLosesNoAcceptedJob(t *testing.T) {
	r := newRig(t, 2*time.Millisecond)
	r.web()
	r.worker("--concurrency", "20")
	ids := r.stream(1000, 300, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.redis.Restart(ctx, true); err != nil {
			t.Error(err)
		}
	})
	dups := r.checkDelivered(ids)
	t.Logf("1000 of 1000 accepted jobs delivered across a redis restart; %d duplicates", dups)
}

// The multi-worker under cpu jobs stays at (or returns to) --min; under io
// jobs against a 50ms mail server it grows toward --max and throughput rises.
func TestMultiWorkerFollowsLag(t *testing.T) {
	r := newRig(t, 50*time.Millisecond)
	r.web()
	maddr := itest.FreeAddr(t)
	r.worker("--min", "1", "--max", "20", "--check-interval", "100ms", "--http", maddr)
	itest.WaitHTTP(t, "http://"+maddr+"/metrics")
	size := func() float64 { return strategytest.Metric("http://"+maddr, "offload_worker_processors") }

	var cpuIDs []string
	for range 20 {
		res := strategytest.Post(t, "http://"+r.addr, `{"to":"a@example.org","kind":"cpu","cost_ms":60}`, "")
		cpuIDs = append(cpuIDs, res.Body["id"].(string))
	}
	peak := 0.0
	itest.Eventually(t, 30*time.Second, "cpu jobs done", func() bool {
		peak = max(peak, size())
		return strategytest.Metric("http://"+maddr, "offload_worker_processed_total") >= 20
	})
	t.Logf("cpu: peak %v processors", peak)
	if peak > 3 {
		t.Fatalf("under cpu jobs the multi-worker grew to %v processors; want it held near --min 1", peak)
	}

	ids := r.stream(1500, 1500, nil)
	start := r.sink.Stats().Received
	t0 := time.Now()
	itest.Eventually(t, 30*time.Second, "grow to 12 processors", func() bool { return size() >= 12 })
	early := float64(r.sink.Stats().Received-start) / time.Since(t0).Seconds()
	s1, t1 := r.sink.Stats().Received, time.Now()
	itest.Eventually(t, 10*time.Second, "a second of work", func() bool { return time.Since(t1) >= time.Second })
	late := float64(r.sink.Stats().Received-s1) / time.Since(t1).Seconds()
	t.Logf("io: grew to %v processors; throughput %.0f/s while growing, %.0f/s after", size(), early, late)
	// One processor against a 50ms mail server does at most 20 mails/s.
	if late < 5*20 {
		t.Fatalf("throughput did not rise with processors: %.0f/s then %.0f/s (one processor: 20/s)", early, late)
	}
	r.checkDelivered(ids)
}

// offload serve with nothing listening at --redis fails at once, exit 2,
// with one line saying so.
func TestServeUnreachableRedisExits2(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	var out strings.Builder
	p, err := proc.Start(proc.Spec{Name: "web", Path: itest.Binary(t), Output: &out,
		Args: []string{"serve", "--strategy", "queue", "--redis", "redis://" + itest.FreeAddr(t) + "/0", "--addr", itest.FreeAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		_ = p.Kill()
		t.Fatal("serve did not exit within 15s with Redis unreachable")
	}
	if code := exitCode(p.Err()); code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "unreachable") {
		t.Fatalf("output does not say Redis is unreachable:\n%s", out.String())
	}
}

// offload queue stats shows the queue and the workers.
func TestQueueStats(t *testing.T) {
	r := newRig(t, 0)
	r.web()
	r.worker("--concurrency", "2")
	ids := r.stream(20, 20, nil)
	r.checkDelivered(ids)
	out, err := exec.Command(itest.Binary(t), "queue", "stats", "--redis", r.redis.URL()).CombinedOutput()
	if err != nil {
		t.Fatalf("queue stats: %v\n%s", err, out)
	}
	for _, want := range []string{"waiting", "oldest wait", "in flight", "processed", "WORKER"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("queue stats lacks %q:\n%s", want, out)
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
