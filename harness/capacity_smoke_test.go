package harness_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/results"
)

// checkCapacity asserts the capacity contract on the raw JSON of every
// ladder run: the fields, the steps, that the climb never went on past
// three failing steps in a row, and that a knee it names is bracketed: a
// failing step above the accept figure, within a doubling of it.
func checkCapacity(t *testing.T, raw []byte) {
	t.Helper()
	var f struct {
		Runs []map[string]json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	ladders := 0
	for _, r := range f.Runs {
		var scenario, strategy, na string
		_ = json.Unmarshal(r["scenario"], &scenario)
		_ = json.Unmarshal(r["strategy"], &strategy)
		_ = json.Unmarshal(r["na_reason"], &na)
		if scenario != "capacity" || na != "" {
			continue
		}
		ladders++
		var c map[string]json.RawMessage
		if err := json.Unmarshal(r["capacity"], &c); err != nil {
			t.Errorf("%s/capacity: no capacity object: %v", strategy, err)
			continue
		}
		for _, k := range []string{"slo_ms", "steps", "max_accept_rps", "max_delivery_rps", "limited_by"} {
			if _, ok := c[k]; !ok {
				t.Errorf("%s/capacity lacks %q", strategy, k)
			}
		}
		var steps []map[string]json.RawMessage
		_ = json.Unmarshal(c["steps"], &steps)
		if len(steps) == 0 {
			t.Errorf("%s/capacity: no steps", strategy)
		}
		var accept float64
		var acceptLimit string
		_ = json.Unmarshal(c["max_accept_rps"], &accept)
		_ = json.Unmarshal(c["accept_limited_by"], &acceptLimit)
		lowestFail, inARow := 0.0, 0
		for i, s := range steps {
			for _, k := range []string{"offered_rps", "achieved_rps", "delivered_rps", "http_latency_ms", "e2e_latency_ms",
				"backlog_growth_per_s", "lost", "cpu_ms_per_job", "rss_kb_per_job", "passed", "failed_because"} {
				if _, ok := s[k]; !ok {
					t.Errorf("%s/capacity step %d lacks %q", strategy, i, k)
				}
			}
			var acceptOK, retried bool
			var offered float64
			_ = json.Unmarshal(s["accept_ok"], &acceptOK)
			_ = json.Unmarshal(s["offered_rps"], &offered)
			if _ = json.Unmarshal(s["retried"], &retried); retried {
				if acceptOK {
					t.Errorf("%s/capacity: step %d passed its answers but was offered again", strategy, i)
				}
				continue
			}
			if inARow >= 3 {
				t.Errorf("%s/capacity: step %d ran after three failing steps in a row", strategy, i)
			}
			if acceptOK {
				inARow = 0
			} else {
				inARow++
				if offered > accept && (lowestFail == 0 || offered < lowestFail) {
					lowestFail = offered
				}
			}
		}
		switch {
		case acceptLimit == "" && lowestFail > 0:
			t.Errorf("%s/capacity: no accept limit named, but the step at %v req/s above %v failed", strategy, lowestFail, accept)
		case acceptLimit != "" && lowestFail == 0:
			t.Errorf("%s/capacity: limited at %v req/s, but no step above it failed its answers", strategy, accept)
		case accept > 0 && lowestFail > 2.01*accept:
			t.Errorf("%s/capacity: the knee is bracketed by %v and %v req/s, wider than a doubling", strategy, accept, lowestFail)
		}
	}
	if ladders == 0 {
		t.Errorf("no capacity ladder ran")
	}
}

// runLadders runs plans (capacity ladders) on b within two minutes and
// checks the capacity contract on the results.json it wrote.
func runLadders(t *testing.T, b *harness.Bench, plans []harness.Plan) *results.File {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := b.Run(ctx, results.Env{}, plans)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(b.Out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkCapacity(t, raw)
	return f
}

// TestTinyLadder runs a two-step ladder end to end against fireforget's
// real processes and checks what the capacity scenario records.
func TestTinyLadder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	bin := itest.Binary(t)
	sink := itest.Sink(t, mailsink.Config{})
	timing := harness.Quick()
	timing.Ladder = harness.Ladder{Start: 100, Factor: 2, Max: 200, Failures: 1, Precision: 1, MinRequests: 100, MinStep: 300 * time.Millisecond,
		Warmup: 100 * time.Millisecond, Settle: time.Second}
	// An SLO no step can miss, so both steps must pass: the test is about
	// the ladder's bookkeeping, not this machine's speed.
	timing.SLO = time.Minute
	out := t.TempDir()
	b := &harness.Bench{Exe: bin, Out: out, Sink: sink, Timing: timing}
	plans, err := b.Plans([]string{"fireforget"}, []string{harness.Capacity}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 {
		t.Fatalf("%d plans for one strategy's ladder under --quick, want 1", len(plans))
	}
	f := runLadders(t, b, plans)
	c := f.Runs[0].Capacity
	if c == nil {
		t.Fatalf("run has no capacity: %+v", f.Runs[0])
	}
	c.Steps = c.Judged() // a step the generator alone failed is offered again
	want := 2
	if len(c.Steps) > 0 && !c.Steps[0].AcceptOK {
		// Only the generator can fail a step under this SLO: a machine
		// busy with other work. The ladder must then stop at once.
		t.Logf("the first step failed: %s", c.Steps[0].FailedBecause)
		if c.Steps[0].LimitedBy != harness.LimitGenerator {
			t.Errorf("first step limited by %q, want the generator (the SLO is a minute)", c.Steps[0].LimitedBy)
		}
		want = 1
	}
	if len(c.Steps) != want || c.Steps[0].OfferedRPS != 100 || want == 2 && c.Steps[1].OfferedRPS != 200 {
		t.Fatalf("steps %+v, want %d of 100 and 200 req/s", c.Steps, want)
	}
	for _, s := range c.Steps {
		if s.Requests < 100 || s.AchievedRPS < 0.9*s.OfferedRPS {
			t.Errorf("step at %v req/s: accept ok %v, %d requests, achieved %v (%s)", s.OfferedRPS, s.AcceptOK, s.Requests,
				s.AchievedRPS, s.FailedBecause)
		}
		if s.CPUMSPerJob <= 0 || s.CPUCores["web"] <= 0 {
			t.Errorf("step at %v req/s: cpu %v ms/job, web %v cores: the processes were not sampled", s.OfferedRPS, s.CPUMSPerJob, s.CPUCores)
		}
		if s.Lost != 0 {
			t.Errorf("step at %v req/s lost %d with no fault", s.OfferedRPS, s.Lost)
		}
	}
	if want == 2 && c.MaxAcceptRPS < 100 || c.MaxDeliveryRPS == nil {
		t.Errorf("max accept %v, max delivery %v: want both figures", c.MaxAcceptRPS, c.MaxDeliveryRPS)
	}
	if f.Runs[0].Delivered == 0 || f.Runs[0].Sent < 200 {
		t.Errorf("run totals: sent %d, delivered %d", f.Runs[0].Sent, f.Runs[0].Delivered)
	}
	itest.AssertNoOrphans(t)
}

// TestTargetLadder runs the capacity ladder against a server the bench did
// not start (a real `offload serve` process, mailing the bench's sink), as
// a user of --target would: once without naming its process, once with
// --target-pid. The ladder must climb, judge deliveries at the sink, and
// blame from the named process's CPU or say it observed none.
func TestTargetLadder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	sink := itest.Sink(t, mailsink.Config{})
	addr := itest.FreeAddr(t)
	web := itest.Start(t, "web", "serve", "--strategy", "fireforget", "--addr", addr, "--smtp", sink.Addr())
	itest.WaitHTTP(t, "http://"+addr+"/healthz")
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("target-pid=%v", named), func(t *testing.T) {
			timing := harness.Quick()
			// Steps until two fail in a row at 50 ms: a few rungs at most
			// on this machine, within Max either way.
			timing.Ladder = harness.Ladder{Start: 100, Factor: 4, Max: 6400, Failures: 2, Precision: 1, MinRequests: 100,
				MinStep: 300 * time.Millisecond, MaxStep: 400 * time.Millisecond, Warmup: 100 * time.Millisecond, Settle: time.Second}
			out := t.TempDir()
			b := &harness.Bench{Out: out, Sink: sink, Target: "http://" + addr, Timing: timing}
			if named {
				b.TargetPIDs = []int{web.PID()}
			}
			plans, err := b.Plans([]string{"external"}, []string{harness.Capacity}, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(plans) != 1 || plans[0].NA != "" || plans[0].Loop != "" {
				t.Fatalf("plans %+v: want one capacity run, no loop model", plans)
			}
			f := runLadders(t, b, plans)
			c := f.Runs[0].Capacity
			if c == nil || len(c.Steps) < 2 {
				t.Fatalf("capacity %+v: want a ladder of at least two steps", c)
			}
			if c.MaxDeliveryRPS == nil || !c.Steps[0].DeliveryJudged || f.Runs[0].Delivered == 0 {
				t.Errorf("deliveries not judged at the sink: max %v, first step judged %v, delivered %d",
					c.MaxDeliveryRPS, c.Steps[0].DeliveryJudged, f.Runs[0].Delivered)
			}
			for _, s := range c.Steps {
				if web := s.CPUCores["web"]; named != (web > 0) {
					t.Errorf("step at %v req/s: web %v cores with --target-pid %v", s.OfferedRPS, web, named)
				}
				for _, limit := range []string{s.AcceptLimitedBy, s.DeliveryLimitedBy} {
					if limit != "" && !named && limit != harness.LimitExternal && limit != harness.LimitGenerator {
						t.Errorf("step at %v req/s blamed on %q with no process observed", s.OfferedRPS, limit)
					}
					if named && limit == harness.LimitExternal {
						t.Errorf("step at %v req/s: not observed although --target-pid named the web", s.OfferedRPS)
					}
				}
			}
		})
	}
}

// serialServer answers one request at a time, each taking exactly service
// (the end of each is scheduled from the end of the one before, so a late
// wake-up is not carried forward): its capacity is 1/service exactly.
type serialServer struct {
	service time.Duration
	mu      sync.Mutex
	free    time.Time // when the previous answer was due to finish
}

func (s *serialServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/jobs" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s.mu.Lock()
	start := time.Now()
	if start.Before(s.free) {
		start = s.free
	}
	s.free = start.Add(s.service)
	time.Sleep(time.Until(s.free))
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// TestTargetLadderFindsAKnownCapacity climbs the ladder through --target
// against a server of known capacity (25 req/s: one request at a time,
// 40 ms each) and checks the knee it finds is within 10 % of it. Slow
// answers keep the test about the ladder, not this machine: a tenth of a
// 40 ms p99 is lateness no busy CI host reaches, and 2.5 s steps make 7 %
// too many requests a backlog past the SLO.
func TestTargetLadderFindsAKnownCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ladder of open-loop steps")
	}
	srv := httptest.NewServer(&serialServer{service: 40 * time.Millisecond})
	defer srv.Close()
	sink := itest.Sink(t, mailsink.Config{})
	timing := harness.Quick()
	timing.SLO = 200 * time.Millisecond
	timing.Ladder = harness.Ladder{Start: 5, Factor: math.Sqrt2, Max: 400, Failures: 2, Precision: 0.05, MinRequests: 40,
		MinStep: 2 * time.Second, MaxStep: 2 * time.Second, Warmup: 500 * time.Millisecond, Settle: 100 * time.Millisecond}
	b := &harness.Bench{Out: t.TempDir(), Sink: sink, Target: srv.URL, Timing: timing}
	plans, err := b.Plans([]string{"external"}, []string{harness.Capacity}, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, err := b.Run(ctx, results.Env{}, plans)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Runs[0].Capacity
	if c == nil {
		t.Fatal("no capacity")
	}
	var climbed []string
	for _, s := range c.Steps {
		climbed = append(climbed, fmt.Sprintf("%v:%v", s.OfferedRPS, s.AcceptOK))
	}
	if c.MaxAcceptRPS < 22.5 || c.MaxAcceptRPS > 27.5 {
		t.Fatalf("a server of 25 req/s read as %v req/s (steps %v)", c.MaxAcceptRPS, climbed)
	}
	if c.AcceptLimitedBy != harness.LimitExternal {
		t.Errorf("knee blamed on %q (%s), want %q: no process was named", c.AcceptLimitedBy, c.AcceptEvidence, harness.LimitExternal)
	}
	t.Logf("knee %v req/s; steps %v", c.MaxAcceptRPS, climbed)
}
