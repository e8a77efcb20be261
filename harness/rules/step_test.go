package rules

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/internal/latency"
	"github.com/offload/offload/results"
)

// step is a made-up step on a fake clock: rate requests per second for one
// second from c0, each answered after answer (or failed when fail says so)
// and delivered after deliver (never, when deliver is negative), with
// deliveries capped at deliverRate per second when that is positive.
type fakeStep struct {
	rate        float64
	answer      time.Duration
	deliver     time.Duration
	deliverRate float64
	fail        func(i int) bool
	slowEvery   int // every slowEvery-th answer takes 10x as long (0: none)
}

var c0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func (f fakeStep) record() Step {
	rec := Step{Offered: f.rate, Start: c0, End: c0.Add(time.Second), Delivered: map[string]time.Time{},
		JudgeDelivery: true, Quiet: 2 * Quiet, PaceFloor: time.Millisecond}
	n := int(f.rate)
	gap := time.Duration(float64(time.Second) / f.rate)
	var nextFree time.Time // when a capped deliverer is free again
	for i := range n {
		due := c0.Add(time.Duration(i) * gap)
		ans := f.answer
		if f.slowEvery > 0 && i%f.slowEvery == 0 {
			ans *= 10
		}
		o := Request{ID: fmt.Sprintf("j%05d", i), Due: due, Done: due.Add(ans), Accepted: f.fail == nil || !f.fail(i)}
		rec.Requests = append(rec.Requests, o)
		if !o.Accepted {
			continue
		}
		rec.Accepts = append(rec.Accepts, o.Done)
		if f.deliver < 0 {
			continue
		}
		at := o.Done.Add(f.deliver)
		if f.deliverRate > 0 {
			if at.Before(nextFree) {
				at = nextFree
			}
			nextFree = at.Add(time.Duration(float64(time.Second) / f.deliverRate))
		}
		if at.Before(c0.Add(3 * time.Second)) { // the sink's record when the step is judged
			rec.Delivered[o.ID] = at
			rec.Deliveries = append(rec.Deliveries, at)
		}
	}
	return rec
}

// late makes every request of a step sent d after it was due.
func late(d time.Duration) func(*Step) {
	return func(r *Step) {
		r.OwnSendDelay = latency.New()
		for range r.Requests {
			latency.Record(r.OwnSendDelay, d)
		}
		r.SendDelayP99 = d
	}
}

func TestStepRule(t *testing.T) {
	rule := DefaultRule()
	tests := []struct {
		name                  string
		step                  fakeStep
		edit                  func(*Step)
		acceptOK, deliveryOK  bool
		reason                string // a phrase failed_because must contain
		wantLost, wantUndeliv int64
	}{
		{name: "keeps up", step: fakeStep{rate: 1000, answer: 2 * time.Millisecond, deliver: 20 * time.Millisecond},
			acceptOK: true, deliveryOK: true},
		{name: "slow answers break the slo", step: fakeStep{rate: 1000, answer: 8 * time.Millisecond, slowEvery: 50},
			acceptOK: false, deliveryOK: true, reason: "above the 50 ms SLO"},
		{name: "one slow answer in two hundred is not the p99", step: fakeStep{rate: 1000, answer: 6 * time.Millisecond, slowEvery: 200},
			acceptOK: true, deliveryOK: true},
		{name: "one slow answer in fifty is", step: fakeStep{rate: 1000, answer: 6 * time.Millisecond, slowEvery: 50},
			acceptOK: false, deliveryOK: true, reason: "HTTP p99 60"},
		{name: "refusals cut achieved below 95%", step: fakeStep{rate: 1000, answer: time.Millisecond,
			fail: func(i int) bool { return i%10 == 0 }}, acceptOK: false, deliveryOK: true, reason: "achieved 900 of 1000"},
		{name: "4% refused still passes", step: fakeStep{rate: 1000, answer: time.Millisecond,
			fail: func(i int) bool { return i%25 == 0 }}, acceptOK: true, deliveryOK: true},
		{name: "workers at half the rate grow the backlog", step: fakeStep{rate: 1000, answer: time.Millisecond,
			deliver: 10 * time.Millisecond, deliverRate: 500}, acceptOK: true, deliveryOK: false, reason: "backlog grew"},
		{name: "workers at 97% of the rate are within tolerance", step: fakeStep{rate: 1000, answer: time.Millisecond,
			deliver: 10 * time.Millisecond, deliverRate: 970}, acceptOK: true, deliveryOK: true},
		{name: "stalled deliveries are lost", step: fakeStep{rate: 200, answer: time.Millisecond, deliver: -1},
			acceptOK: true, deliveryOK: false, reason: "lost 200", wantLost: 200},
		{name: "still arriving is late, not lost", step: fakeStep{rate: 200, answer: time.Millisecond, deliver: -1},
			edit: func(r *Step) { r.Quiet = Quiet / 2 }, acceptOK: true, deliveryOK: false, reason: "backlog grew",
			wantUndeliv: 200},
		{name: "the baseline is judged on its answers only", step: fakeStep{rate: 200, answer: time.Millisecond, deliver: -1},
			edit: func(r *Step) { r.JudgeDelivery = false }, acceptOK: true, deliveryOK: true},
		{name: "a generator 3 ms late on fast answers fails the step", step: fakeStep{rate: 500, answer: time.Millisecond, deliver: time.Millisecond},
			edit: late(3 * time.Millisecond), acceptOK: false, deliveryOK: true, reason: "generator fell behind"},
		// The same rule as for every run: a tenth of a 40 ms p99 is 4 ms.
		{name: "3 ms late on 40 ms answers moves the p99 by less than 10%", step: fakeStep{rate: 500, answer: 40 * time.Millisecond, deliver: time.Millisecond},
			edit: late(3 * time.Millisecond), acceptOK: true, deliveryOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.step.record()
			if tc.edit != nil {
				tc.edit(&rec)
			}
			v := rule.Judge(rec)
			s := v.CapacityStep
			if s.AcceptOK != tc.acceptOK || s.DeliveryOK != tc.deliveryOK {
				t.Fatalf("accept ok %v, delivery ok %v; want %v, %v (failed because %q)",
					s.AcceptOK, s.DeliveryOK, tc.acceptOK, tc.deliveryOK, s.FailedBecause)
			}
			if s.Passed != (tc.acceptOK && tc.deliveryOK) {
				t.Fatalf("passed %v with accept %v, delivery %v", s.Passed, s.AcceptOK, s.DeliveryOK)
			}
			if s.Passed != (s.FailedBecause == "") {
				t.Fatalf("passed %v but failed because %q", s.Passed, s.FailedBecause)
			}
			if !strings.Contains(s.FailedBecause, tc.reason) {
				t.Fatalf("failed because %q, want it to say %q", s.FailedBecause, tc.reason)
			}
			if s.Lost != tc.wantLost || s.Undelivered != tc.wantUndeliv {
				t.Fatalf("lost %d, undelivered %d; want %d, %d", s.Lost, s.Undelivered, tc.wantLost, tc.wantUndeliv)
			}
		})
	}
}

func TestBacklogSlope(t *testing.T) {
	at := func(rate float64, lag time.Duration) []time.Time {
		var out []time.Time
		for i := range int(rate * 2) {
			out = append(out, c0.Add(time.Duration(float64(i)/rate*float64(time.Second))+lag))
		}
		return out
	}
	tests := []struct {
		name                string
		accepts, deliveries []time.Time
		want                float64
	}{
		{"kept up with a constant backlog in flight", at(1000, 0), at(1000, 100*time.Millisecond), 0},
		{"delivering at 600 of 1000", at(1000, 0), at(600, 0), 400},
		{"nothing delivered", at(500, 0), nil, 500},
		{"draining an earlier backlog", at(200, 0), append(at(200, 0), at(300, 0)...), -300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BacklogSlope(tc.accepts, tc.deliveries, c0.Add(200*time.Millisecond), c0.Add(1800*time.Millisecond))
			if math.Abs(got-tc.want) > 0.03*math.Max(100, math.Abs(tc.want)) {
				t.Fatalf("slope %.1f jobs/s, want %.0f", got, tc.want)
			}
		})
	}
}

func TestBlame(t *testing.T) {
	tests := []struct {
		name   string
		ev     Evidence
		accept bool
		want   string
	}{
		{"generator behind its schedule", Evidence{Cores: 2, CPU: map[string]float64{"web": 1.9}, Behind: true}, true, LimitGenerator},
		{"a cluster master on its one thread", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.4, "redis-3": 0.9, "redis-1": 0.2}}, true, LimitBroker},
		{"a node loop on its one core", Evidence{Cores: 2, Loop: "node", CPU: map[string]float64{"web": 0.9, "bench": 0.2}}, true, LimitWebCPU},
		{"a go web at one core of two is not saturated", Evidence{Cores: 2, Loop: "go", CPU: map[string]float64{"web": 0.9, "bench": 0.2}}, true, LimitUnknown},
		{"answers waiting for their mail's sender", Evidence{Cores: 2, Loop: "node", CPU: map[string]float64{"web": 0.3, "bench": 0.2}, SinkInFlight: 3.8, Senders: 4}, true, LimitSMTP},
		{"all senders busy on the delivery side", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.2, "worker-1": 0.3}, SinkInFlight: 7.5, Senders: 8}, false, LimitSMTP},
		{"redis on its one thread", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.6, "redis": 0.93}}, true, LimitBroker},
		{"node loop lagging", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.95, "bench": 0.3}, LagP99MS: 40}, true, LimitLoopLag},
		{"web process using both cores", Evidence{Cores: 2, CPU: map[string]float64{"web": 1.8, "bench": 0.1}}, true, LimitWebCPU},
		{"machine full, web the biggest", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.9, "bench": 0.6, "redis": 0.3}}, true, LimitWebCPU},
		{"machine full, bench the biggest", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.5, "bench": 0.9, "redis": 0.4}}, true, LimitGenerator},
		{"one worker on its core", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.3, "worker-1": 0.9}}, false, LimitWorkers},
		{"workers waiting on SMTP", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.3, "worker-1": 0.2}, SinkInFlight: 8}, false, LimitSMTP},
		{"machine full, workers the biggest", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.4, "worker-1": 0.75, "worker-2": 0.6}}, false, LimitWorkers},
		{"nothing saturated, nothing in flight", Evidence{Cores: 2, CPU: map[string]float64{"web": 0.2, "worker-1": 0.1}}, false, LimitUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.ev.Observed = true
			got, detail := Blame(tc.ev, tc.accept)
			if got != tc.want {
				t.Fatalf("blamed %q (%s), want %q", got, detail, tc.want)
			}
			if !strings.Contains(detail, "cores busy") {
				t.Fatalf("evidence %q does not give the CPU shares", detail)
			}
		})
	}
	if got, detail := Blame(Evidence{Cores: 2}, true); got != LimitExternal || !strings.Contains(detail, "--target-pid") {
		t.Errorf("a server with no process observed is blamed on %q (%s), want %q naming --target-pid", got, detail, LimitExternal)
	}
}

// The saturated delivery rate comes with Little's law beside it: 4 in
// flight at 250 deliveries a second is 16 ms each.
func TestSummarizeSaturated(t *testing.T) {
	steps := []results.CapacityStep{
		{OfferedRPS: 200, AcceptOK: true, DeliveryOK: true, DeliveryJudged: true, DeliveredRPS: 200, SinkInFlight: 3.2},
		{OfferedRPS: 283, AcceptOK: true, DeliveryOK: false, DeliveryJudged: true, DeliveredRPS: 250, SinkInFlight: 4, DeliveryLimitedBy: LimitSMTP},
		{OfferedRPS: 400, AcceptOK: true, DeliveryOK: false, DeliveryJudged: true, DeliveredRPS: 240, SinkInFlight: 4, DeliveryLimitedBy: LimitSMTP},
	}
	c := Summarize(50*time.Millisecond, 2000, steps)
	if c.SaturatedDeliveryRPS != 250 || c.SaturatedInFlight != 4 || c.SaturatedServiceMS != 16 {
		t.Fatalf("saturated %v jobs/s, %v in flight, %v ms each; want 250, 4, 16", c.SaturatedDeliveryRPS, c.SaturatedInFlight, c.SaturatedServiceMS)
	}
	if c.DeliveryLimitedBy != LimitSMTP || *c.MaxDeliveryRPS != 200 || c.LimitedBy != LimitSMTP {
		t.Fatalf("delivery %v limited by %q (run: %q), want 200 by SMTP concurrency", *c.MaxDeliveryRPS, c.DeliveryLimitedBy, c.LimitedBy)
	}
}

func TestSummarize(t *testing.T) {
	step := func(rate float64, accept, delivery, judged bool, limit string) results.CapacityStep {
		s := results.CapacityStep{OfferedRPS: rate, AcceptOK: accept, DeliveryOK: delivery, DeliveryJudged: judged,
			Passed: accept && delivery, LimitedBy: limit, DeliveredRPS: rate / 2, SinkInFlight: 4}
		if !accept {
			s.AcceptLimitedBy = limit
		}
		if judged && !delivery {
			s.DeliveryLimitedBy = limit
		}
		return s
	}
	tests := []struct {
		name     string
		steps    []results.CapacityStep
		accept   float64
		delivery any // nil or a float64
		limit    string
		ceiling  bool
	}{
		{"deliveries break first, answers later", []results.CapacityStep{
			step(500, true, true, true, ""), step(1000, true, false, true, LimitWorkers),
			step(2000, true, false, false, ""), step(4000, false, false, false, LimitWebCPU)},
			2000, 500.0, LimitWorkers, false},
		{"both at once", []results.CapacityStep{step(500, true, true, true, ""), step(1000, false, false, true, LimitMachine)},
			500, 500.0, LimitMachine, false},
		{"first step fails its deliveries", []results.CapacityStep{step(500, true, false, true, LimitSMTP), step(1000, false, false, false, LimitWebCPU)},
			500, 0.0, LimitSMTP, false},
		{"baseline: deliveries never judged", []results.CapacityStep{step(500, true, true, false, ""), step(1000, false, true, false, LimitGenerator)},
			500, nil, LimitGenerator, false},
		{"ran out of steps", []results.CapacityStep{step(500, true, true, true, ""), step(1000, true, true, true, "")},
			1000, 1000.0, "", true},
		{"a failure below a later pass is noise", []results.CapacityStep{step(50, false, true, true, LimitUnknown), step(100, true, true, true, ""),
			step(200, false, false, true, LimitWebCPU), step(400, false, false, true, LimitMachine), step(141, true, true, true, "")},
			141, 141.0, LimitWebCPU, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Summarize(50*time.Millisecond, 2000, tc.steps)
			if c.MaxAcceptRPS != tc.accept || c.LimitedBy != tc.limit || c.Ceiling != tc.ceiling || c.SLOMS != 50 {
				t.Fatalf("accept %v, limited by %q, ceiling %v, slo %v; want %v, %q, %v, 50", c.MaxAcceptRPS, c.LimitedBy, c.Ceiling, c.SLOMS,
					tc.accept, tc.limit, tc.ceiling)
			}
			if want := tc.delivery; want != nil && c.MaxDeliveryRPS != nil && *c.MaxDeliveryRPS < tc.accept && c.SaturatedDeliveryRPS == 0 {
				t.Fatalf("deliveries fell behind but no saturated rate was read")
			}
			switch want := tc.delivery.(type) {
			case nil:
				if c.MaxDeliveryRPS != nil {
					t.Fatalf("delivery %v, want none", *c.MaxDeliveryRPS)
				}
			case float64:
				if c.MaxDeliveryRPS == nil || *c.MaxDeliveryRPS != want {
					t.Fatalf("delivery %v, want %v", c.MaxDeliveryRPS, want)
				}
			}
		})
	}
}

// The cases that made these rules: each a recorded shape of step that an
// earlier rule read wrong.
func TestRulesOnRecordedShapes(t *testing.T) {
	t.Run("foreground below the old 500 req/s floor: its knee is found", func(t *testing.T) {
		c := Climb{Floor: 50, Factor: math.Sqrt2, Max: 32000, Failures: 2, Precision: 0.1}
		for {
			rate, ok := c.Next()
			if !ok {
				break
			}
			c.Record(rate, rate <= 220) // about 4 sends in flight at 17.5 ms each
		}
		pass, fail, ok := c.Knee()
		if !ok || pass < 200 || pass > 220 || fail > 1.1*pass {
			t.Fatalf("knee %v..%v (%v), want within 10 %% below 220", pass, fail, ok)
		}
	})
	t.Run("queue warming up: a first step behind does not cap the delivery figure", func(t *testing.T) {
		steps := []results.CapacityStep{
			{OfferedRPS: 50, AcceptOK: true, DeliveryOK: false, DeliveryJudged: true, DeliveredRPS: 40, SinkInFlight: 1, DeliveryLimitedBy: LimitWorkers},
			{OfferedRPS: 71, AcceptOK: true, DeliveryOK: true, DeliveryJudged: true},
			{OfferedRPS: 707, AcceptOK: true, DeliveryOK: true, DeliveryJudged: true},
			{OfferedRPS: 1000, AcceptOK: true, DeliveryOK: true, DeliveryJudged: true},
			{OfferedRPS: 1414, AcceptOK: true, DeliveryOK: false, DeliveryJudged: true, DeliveredRPS: 1100, SinkInFlight: 19, DeliveryLimitedBy: LimitSMTP},
		}
		c := Summarize(50*time.Millisecond, 2000, steps)
		if c.MaxDeliveryRPS == nil || *c.MaxDeliveryRPS != 1000 || c.DeliveryLimitedBy != LimitSMTP {
			t.Fatalf("delivery %v limited by %q, want 1000 by the step above it", c.MaxDeliveryRPS, c.DeliveryLimitedBy)
		}
	})
	t.Run("fireforget's backlog still arriving is late, not lost", func(t *testing.T) {
		rec := fakeStep{rate: 500, answer: time.Millisecond, deliver: 10 * time.Millisecond, deliverRate: 100}.record()
		rec.Quiet = 20 * time.Millisecond
		s := DefaultRule().Judge(rec).CapacityStep
		if s.Lost != 0 || s.Undelivered == 0 || s.DeliveryOK {
			t.Fatalf("lost %d, undelivered %d, delivery ok %v: want backlog, not loss", s.Lost, s.Undelivered, s.DeliveryOK)
		}
	})
	t.Run("a step the generator failed and that was offered again does not count", func(t *testing.T) {
		steps := []results.CapacityStep{
			{OfferedRPS: 50, AcceptOK: true, DeliveryOK: true, DeliveryJudged: true},
			{OfferedRPS: 71, Retried: true, AcceptOK: false, DeliveryOK: true, DeliveryJudged: true, AcceptLimitedBy: LimitGenerator},
			{OfferedRPS: 71, AcceptOK: true, DeliveryOK: true, DeliveryJudged: true},
			{OfferedRPS: 100, AcceptOK: false, DeliveryOK: true, DeliveryJudged: true, AcceptLimitedBy: LimitWebCPU},
		}
		c := Summarize(50*time.Millisecond, 2000, steps)
		if c.MaxAcceptRPS != 71 || c.AcceptLimitedBy != LimitWebCPU {
			t.Fatalf("accept %v limited by %q, want 71 by web CPU", c.MaxAcceptRPS, c.AcceptLimitedBy)
		}
		if j := c.Judged(); len(j) != 3 || j[1].Retried {
			t.Fatalf("judged steps %+v: want the three that were not offered again", j)
		}
	})
	t.Run("a saturated machine with no one process at its limit", func(t *testing.T) {
		got, detail := Blame(Evidence{Cores: 2, Observed: true, CPU: map[string]float64{"web": 0.7, "worker-1": 0.5, "redis": 0.4, "bench": 0.3}}, false)
		if got != LimitMachine || !strings.Contains(detail, "1.90 of 2 cores busy") {
			t.Fatalf("blamed %q (%s), want %q with the total", got, detail, LimitMachine)
		}
	})
}

func TestPace(t *testing.T) {
	hist := func(d time.Duration, n int) *hdrhistogram.Histogram {
		h := latency.New()
		for range n {
			latency.Record(h, d)
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		delay   time.Duration
		httpP99 time.Duration
		floor   time.Duration
		refused bool
	}{
		{"within the floor", 900 * time.Microsecond, 2 * time.Millisecond, 0, false},
		{"over the floor on fast answers", 1500 * time.Microsecond, 2 * time.Millisecond, 0, true},
		{"a tenth of a 400 ms p99 allows 30 ms", 30 * time.Millisecond, 400 * time.Millisecond, 0, false},
		{"but not 50 ms", 50 * time.Millisecond, 400 * time.Millisecond, 0, true},
		{"a raised floor", 4 * time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, false},
	} {
		why := Pace(hist(tc.delay, 100), tc.httpP99, tc.floor)
		if (why != "") != tc.refused {
			t.Errorf("%s: %q, want refused %v", tc.name, why, tc.refused)
		}
	}
	if why := Pace(latency.New(), time.Second, 0); why != "" {
		t.Errorf("no send delays recorded refused the run: %q", why)
	}
	if b := Bound(40*time.Millisecond, 0); b != 4*time.Millisecond {
		t.Errorf("bound for a 40 ms p99 is %v, want 4ms", b)
	}
}
