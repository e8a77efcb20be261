package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scenario names are a contract: results.json and the reports use them.
const (
	Steady        = "steady"
	CPU           = "cpu"
	Burst         = "burst"
	WorkerCrash   = "worker-crash"
	WebCrash      = "web-crash"
	BrokerRestart = "broker-restart"
	MailOutage    = "mail-outage"
	Scale         = "scale"
)

// ScenarioOrder lists every scenario, in report order.
var ScenarioOrder = []string{Steady, CPU, Burst, WorkerCrash, WebCrash, BrokerRestart, MailOutage, Scale}

// Timing is the length of each phase and the offered load; Quick and Full
// are the two presets, and every field can be overridden.
type Timing struct {
	Rate           float64       // io jobs offered per second
	ProbeRate      float64       // /healthz probes per second, alongside
	Warmup         time.Duration // discarded
	Measure        time.Duration // steady, cpu, burst, scale
	FaultMeasure   time.Duration // fault scenarios: room for fault, repair and recovery
	FaultAt        time.Duration // into the measured phase
	FaultFor       time.Duration // until the repair
	Drain          time.Duration // bound on waiting for deliveries after the last send
	Hey            time.Duration // the closed-loop comparison under cpu (steady: as long as Measure)
	HeyC           int           // hey's concurrency (-c)
	RecoveryWindow time.Duration // deliveries must match the offered rate for this long
	RequestTimeout time.Duration
	ScaleWorkers   []int
	CPUEvery       int           // every Nth request of the cpu scenario is a cpu job
	CPUCost        time.Duration // its cost
	BurstFactor    float64
	SinkDelay      time.Duration
}

// Quick runs every strategy through every scenario in about two minutes.
func Quick() Timing {
	return Timing{
		Rate: 100, ProbeRate: 20,
		Warmup: 300 * time.Millisecond, Measure: 1500 * time.Millisecond, FaultMeasure: 2 * time.Second,
		FaultAt: 500 * time.Millisecond, FaultFor: 400 * time.Millisecond,
		Drain: 3 * time.Second, Hey: 2 * time.Second, HeyC: 1,
		RecoveryWindow: 300 * time.Millisecond, RequestTimeout: 5 * time.Second,
		ScaleWorkers: []int{2}, CPUEvery: 200, CPUCost: 300 * time.Millisecond,
		BurstFactor: 4, SinkDelay: 10 * time.Millisecond,
	}
}

// Full is `make bench`: longer phases, three worker counts, every variant.
func Full() Timing {
	return Timing{
		Rate: 100, ProbeRate: 20,
		Warmup: time.Second, Measure: 5 * time.Second, FaultMeasure: 6 * time.Second,
		FaultAt: 2 * time.Second, FaultFor: time.Second,
		Drain: 10 * time.Second, Hey: 4 * time.Second, HeyC: 1,
		RecoveryWindow: time.Second, RequestTimeout: 10 * time.Second,
		ScaleWorkers: []int{1, 2, 4}, CPUEvery: 200, CPUCost: 400 * time.Millisecond,
		BurstFactor: 4, SinkDelay: 10 * time.Millisecond,
	}
}

// Scenario is what one run does: its load, its fault, its comparisons.
type Scenario struct {
	Name     string
	Rate     float64
	Measure  time.Duration
	Load     RateFunc
	CPUEvery int // 0: io jobs only
	CPUCost  time.Duration
	Fault    *FaultPlan
	Hey      time.Duration // run hey for this long after the open-loop phases (0: no hey)
	Loops    []string // the web's concurrency models to run it under
	Workers  []int    // job workers per run (0: the strategy's default)
}

// Build returns the named scenario under timing t.
func (t Timing) Build(name string) (Scenario, error) {
	s := Scenario{Name: name, Rate: t.Rate, Measure: t.Measure, Load: Constant(t.Rate), Loops: []string{"node"}, Workers: []int{1}}
	fault := func(kind string) {
		s.Measure = t.FaultMeasure
		s.Fault = &FaultPlan{Kind: kind, At: t.FaultAt, For: t.FaultFor}
	}
	switch name {
	case Steady:
		s.Hey = t.Measure
	case CPU:
		// hey needs enough samples that one stall is under 1% of them
		// (CPUEvery > 100 x its concurrency), so it runs at least Hey.
		s.CPUEvery, s.CPUCost, s.Hey = t.CPUEvery, t.CPUCost, max(t.Hey, t.Measure)
		s.Loops = []string{"node", "go"}
	case Burst:
		s.Load = Step(t.Rate, t.BurstFactor, t.Measure/4, t.Measure/4)
	case WorkerCrash:
		fault(FaultKillWorker)
	case WebCrash:
		fault(FaultKillWeb)
	case BrokerRestart:
		fault(FaultRestartRedis)
	case MailOutage:
		fault(FaultMailOutage)
	case Scale:
		s.Rate = 2 * t.Rate
		s.Load = Constant(s.Rate)
		s.Workers = t.ScaleWorkers
	default:
		return Scenario{}, fmt.Errorf("unknown scenario %q: use %s", name, strings.Join(ScenarioOrder, ", "))
	}
	return s, nil
}

// IsCPU says whether request seq of this scenario is a cpu job: every
// CPUEvery-th, starting half a period in, so that even a short run has one.
func (s Scenario) IsCPU(seq int) bool {
	return s.CPUEvery > 0 && seq%s.CPUEvery == s.CPUEvery/2
}

// Request is the seq-th job of the scenario, due at due.
func (s Scenario) Request(prefix string, seq int, due time.Time) Request {
	r := Request{Seq: seq, ID: fmt.Sprintf("%s%06d", prefix, seq), Kind: "io", Due: due}
	if s.IsCPU(seq) {
		r.Kind, r.CostMS = "cpu", int(s.CPUCost/time.Millisecond)
	}
	return r
}

// ParseList splits a comma list; "all" or "" selects every name in all.
func ParseList(v string, all []string, what string) ([]string, error) {
	if v == "" || v == "all" {
		return all, nil
	}
	var out []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("unknown %s %q: use %s or all", what, n, strings.Join(all, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}
