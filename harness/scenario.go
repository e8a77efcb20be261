package harness

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/internal/mailsink"
)

// Scenario names are a contract: results.json and the reports use them.
const (
	Steady        = "steady"
	CPU           = "cpu"
	Burst         = "burst"
	WorkerCrash   = "worker-crash"
	WebCrash      = "web-crash"
	BrokerRestart = "broker-restart"
	// BrokerFailover SIGKILLs the Redis master holding jobs; its replica
	// is promoted (failover.go).
	BrokerFailover = "broker-failover"
	// Partition cuts the web process and one worker off from Redis for
	// FaultFor, by a blackhole route in their network namespace (netcut).
	Partition  = "partition"
	MailOutage = "mail-outage"
	Scale      = "scale"
	Capacity   = "capacity"
)

// ScenarioOrder lists every scenario, in report order.
// Capacity runs before scale: scale offers a load sized from the ladder's
// measured delivery capacity.
var ScenarioOrder = []string{Steady, CPU, Burst, WorkerCrash, WebCrash, BrokerRestart, BrokerFailover, Partition, MailOutage, Capacity, Scale}

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
	Hey            time.Duration // the closed-loop comparison under cpu
	HeySteady      time.Duration // and under steady
	HeyC           int           // hey's concurrency (-c)
	RecoveryWindow time.Duration // deliveries must match the offered rate for this long
	RequestTimeout time.Duration
	ScaleWorkers   []int
	CPUFirst       int           // the cpu scenario's first cpu job is request number CPUFirst,
	CPUEvery       int           // and every CPUEvery-th after it
	CPUCost        time.Duration // its cost
	BurstFactor    float64
	Poisson        bool   // exponential gaps instead of a fixed interval (same mean rate)
	Seed           uint64 // for Poisson arrivals
	// Provider is the mail provider model the bench's sink plays: its
	// latency and limits (the sink's Addr, Seed and Logger are the bench's).
	Provider       mailsink.Config
	SendDelayBound time.Duration // p99 due -> written above this makes a run invalid; 0: DefaultSendDelayBound
	RecoveryBound  time.Duration // load goes on after a repair until recovery, at most this long; 0: DefaultRecoveryBound
	Ladder         Ladder        // the capacity scenario's rate steps
	SLO            time.Duration // a capacity step's HTTP p99 from due must not exceed this
	// ScaleLoad is the scale scenario's offered rate as a multiple of one
	// worker's delivery capacity, measured by the capacity ladder.
	ScaleLoad float64
}

// Quick runs every strategy through every scenario in about two minutes.
func Quick() Timing {
	return Timing{
		Rate: 100, ProbeRate: 20,
		Warmup: 150 * time.Millisecond, Measure: 1200 * time.Millisecond, FaultMeasure: 2 * time.Second,
		FaultAt: 500 * time.Millisecond, FaultFor: 400 * time.Millisecond,
		Drain: 2 * time.Second, Hey: 3 * time.Second, HeySteady: 500 * time.Millisecond, HeyC: 1,
		RecoveryWindow: 300 * time.Millisecond, RequestTimeout: 5 * time.Second,
		ScaleWorkers: []int{2}, CPUFirst: 50, CPUEvery: 400, CPUCost: 300 * time.Millisecond,
		BurstFactor: 4, Provider: mailsink.Config{}.WithLatency(mailsink.DefaultLatency),
		// A short ladder: from 50 req/s, low enough for every strategy to
		// pass, doubling, the knee bisected to within 50 %; steps of 500
		// requests where 0.4-0.6 s allows, fewer than the full ladder's
		// 2,000, so its p99 rests on 5 samples.
		Ladder: Ladder{Start: 50, Factor: 2, Max: 32000, Failures: 2, Precision: 0.5,
			MinRequests: 500, MinStep: 400 * time.Millisecond, MaxStep: 600 * time.Millisecond,
			Warmup: 200 * time.Millisecond, FirstWarmup: time.Second, Settle: time.Second},
		SLO: 50 * time.Millisecond, ScaleLoad: 2.5,
	}
}

// Full is `make bench`: longer phases, three worker counts, every variant.
func Full() Timing {
	return Timing{
		Rate: 100, ProbeRate: 20,
		Warmup: 750 * time.Millisecond, Measure: 4 * time.Second, FaultMeasure: 3500 * time.Millisecond,
		FaultAt: 1500 * time.Millisecond, FaultFor: time.Second,
		// Drain: a lost job is waited for this long; retries still arriving
		// get twice as long. Hey: the closed-loop comparison's samples (a
		// few thousand at c=1), not its length, are what the charts need.
		Drain: 4 * time.Second, Hey: 3 * time.Second, HeySteady: time.Second, HeyC: 1,
		RecoveryWindow: time.Second, RequestTimeout: 10 * time.Second,
		ScaleWorkers: []int{1, 2, 4}, CPUFirst: 50, CPUEvery: 400, CPUCost: 400 * time.Millisecond,
		BurstFactor: 4, Provider: mailsink.Config{}.WithLatency(mailsink.DefaultLatency),
		// From 50 req/s, steps a factor of √2 apart, ending after two
		// failures in a row, the knee bisected to within 10 %. Each step
		// is 2,000 measured requests (so p99 rests on 20 samples) within
		// 1-1.5 s: at the lowest rates a step has fewer, and its p99 is
		// nearer its maximum.
		Ladder: Ladder{Start: 50, Factor: math.Sqrt2, Max: 32000, Failures: 2, Precision: 0.1,
			MinRequests: 2000, MinStep: time.Second, MaxStep: 1500 * time.Millisecond,
			Warmup: 300 * time.Millisecond, FirstWarmup: 2 * time.Second, Settle: 1500 * time.Millisecond},
		SLO: 50 * time.Millisecond, ScaleLoad: 2.5,
	}
}

// Scenario is what one run does: its load, its fault, its comparisons.
type Scenario struct {
	Name     string
	Rate     float64
	Measure  time.Duration
	Load     RateFunc
	CPUFirst int
	CPUEvery int // 0: io jobs only
	CPUCost  time.Duration
	Fault    *FaultPlan
	Hey      time.Duration // run hey for this long after the open-loop phases (0: no hey)
	Loops    []string      // the web's concurrency models to run it under
	Workers  []int         // job workers per run (0: the strategy's default)
	Ladder   *Ladder       // capacity: the rate steps (Rate and Measure unused)
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
		s.Hey = t.HeySteady
	case CPU:
		// Rare, long stalls: few enough that hey (one worker, stuck once per
		// stall) sees them in under 1% of its requests, while an open-loop
		// client, sending on schedule, sees every request due during one.
		s.CPUFirst, s.CPUEvery, s.CPUCost, s.Hey = t.CPUFirst, t.CPUEvery, t.CPUCost, t.Hey
		s.Loops = []string{"node", "go"}
	case Burst:
		s.Load = Step(t.Rate, t.BurstFactor, t.Measure/4, t.Measure/4)
	case WorkerCrash:
		fault(FaultKillWorker)
	case WebCrash:
		fault(FaultKillWeb)
	case BrokerRestart:
		fault(FaultRestartRedis)
	case BrokerFailover:
		fault(FaultFailover)
	case Partition:
		fault(FaultPartition)
	case MailOutage:
		fault(FaultMailOutage)
	case Scale:
		// The rate here stands until the run starts: the bench replaces it
		// with ScaleLoad times one worker's measured delivery capacity.
		s.Rate = 2 * t.Rate
		s.Load = Constant(s.Rate)
		s.Workers = t.ScaleWorkers
	case Capacity:
		l := t.Ladder
		s.Ladder, s.Rate, s.Load = &l, l.Start, Constant(l.Start)
		// The loop model matters to both halves when the job runs in the
		// web process; the bench adds --loop go for those strategies only.
		s.Loops = []string{"node", "go"}
	default:
		return Scenario{}, fmt.Errorf("unknown scenario %q: use %s", name, strings.Join(ScenarioOrder, ", "))
	}
	return s, nil
}

// IsCPU says whether request seq of this scenario is a cpu job: number
// CPUFirst and every CPUEvery-th after it, so that even a short run has one.
func (s Scenario) IsCPU(seq int) bool {
	return s.CPUEvery > 0 && seq >= s.CPUFirst && (seq-s.CPUFirst)%s.CPUEvery == 0
}

// Request is the seq-th job of the scenario, due at due.
func (s Scenario) Request(prefix string, seq int, due time.Time) Request {
	r := Request{Seq: seq, ID: jobID(prefix, seq), Kind: "io", Due: due}
	if s.IsCPU(seq) {
		r.Kind, r.CostMS = "cpu", int(s.CPUCost/time.Millisecond)
	}
	return r
}

// jobID is prefix and seq, zero-padded to six digits (fmt's %06d without
// its cost: the generator names every request).
func jobID(prefix string, seq int) string {
	b := make([]byte, 0, len(prefix)+8)
	b = append(b, prefix...)
	if seq >= 0 {
		for p := 100000; p > 1 && seq < p; p /= 10 {
			b = append(b, '0')
		}
	}
	return string(strconv.AppendInt(b, int64(seq), 10))
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
