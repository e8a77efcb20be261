package harness

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

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

func (f fakeStep) record() StepRecord {
	rec := StepRecord{Offered: f.rate, Start: c0, End: c0.Add(time.Second), Delivered: map[string]Delivery{},
		JudgeDelivery: true, Stalled: true}
	n := int(f.rate)
	gap := time.Duration(float64(time.Second) / f.rate)
	var nextFree time.Time // when a capped deliverer is free again
	for i := range n {
		due := c0.Add(time.Duration(i) * gap)
		ans := f.answer
		if f.slowEvery > 0 && i%f.slowEvery == 0 {
			ans *= 10
		}
		o := Outcome{Request: Request{Seq: i, ID: fmt.Sprintf("j%05d", i), Kind: "io", Due: due}, Sent: due, Done: due.Add(ans), Status: 202}
		if f.fail != nil && f.fail(i) {
			o.Status = 503
		}
		rec.Requests = append(rec.Requests, o)
		if !o.Accepted() {
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
			rec.Delivered[o.ID] = Delivery{First: at, Count: 1}
			rec.Deliveries = append(rec.Deliveries, at)
		}
	}
	return rec
}

func TestStepRule(t *testing.T) {
	rule := DefaultRule()
	tests := []struct {
		name                  string
		step                  fakeStep
		edit                  func(*StepRecord)
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
			edit: func(r *StepRecord) { r.Stalled = false }, acceptOK: true, deliveryOK: false, reason: "backlog grew",
			wantUndeliv: 200},
		{name: "the baseline is judged on its answers only", step: fakeStep{rate: 200, answer: time.Millisecond, deliver: -1},
			edit: func(r *StepRecord) { r.JudgeDelivery = false }, acceptOK: true, deliveryOK: true},
		{name: "a generator behind its schedule fails the step", step: fakeStep{rate: 500, answer: time.Millisecond, deliver: time.Millisecond},
			edit: func(r *StepRecord) { r.Behind = "late"; r.SendDelayP99 = 3 * time.Millisecond }, acceptOK: false, deliveryOK: true,
			reason: "generator fell behind"},
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

func TestLadderRates(t *testing.T) {
	l := Ladder{Start: 500, Factor: math.Sqrt2, Max: 4000, MinRequests: 2000, MinStep: time.Second}
	got := l.Rates()
	want := []float64{500, 707, 1000, 1414, 2000, 2828, 4000}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rates %v, want %v", got, want)
	}
	for _, tc := range []struct {
		rate float64
		want time.Duration
	}{{500, 4 * time.Second}, {1000, 2 * time.Second}, {4000, time.Second}} {
		if d := l.StepLength(tc.rate); d != tc.want {
			t.Errorf("step at %v req/s lasts %v, want %v (2,000 requests, at least 1s)", tc.rate, d, tc.want)
		}
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
			got, detail := Blame(tc.ev, tc.accept)
			if got != tc.want {
				t.Fatalf("blamed %q (%s), want %q", got, detail, tc.want)
			}
			if !strings.Contains(detail, "cores busy") {
				t.Fatalf("evidence %q does not give the CPU shares", detail)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	step := func(rate float64, accept, delivery, judged bool, limit string) results.CapacityStep {
		return results.CapacityStep{OfferedRPS: rate, AcceptOK: accept, DeliveryOK: delivery, DeliveryJudged: judged,
			Passed: accept && delivery, LimitedBy: limit}
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Summarize(50*time.Millisecond, 2000, tc.steps)
			if c.MaxAcceptRPS != tc.accept || c.LimitedBy != tc.limit || c.Ceiling != tc.ceiling || c.SLOMS != 50 {
				t.Fatalf("accept %v, limited by %q, ceiling %v, slo %v; want %v, %q, %v, 50", c.MaxAcceptRPS, c.LimitedBy, c.Ceiling, c.SLOMS,
					tc.accept, tc.limit, tc.ceiling)
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
