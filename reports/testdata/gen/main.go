// Command gen writes reports/testdata/results.json, the small fixed fixture
// the reports' golden tests run on. The numbers are invented but shaped like
// the talk's lessons, so every chart and verdict has something to say:
// foreground and fireforget block the loop under cpu, fireforget loses on a
// web crash, localipc on a worker crash, pubsub duplicates with 2+ workers,
// queue and eventbus lose nothing.
//
//	go run ./reports/testdata/gen > reports/testdata/results.json
package main

import (
	"encoding/json"
	"math"
	"os"
	"time"

	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

var strategies = catalog.Names()

const (
	rate     = 200.0 // req/s offered in most scenarios
	duration = 20.0  // s measured
	step     = 1.0   // s per time-series point
)

func main() {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f := results.File{
		Schema: results.Schema,
		Env: results.Env{
			GitSHA: "0123abc", GoVersion: "go1.26.0", CPUModel: "Intel(R) Xeon(R) CPU @ 2.20GHz",
			Cores: 2, RedisVersion: "7.0.15", Hostname: "bench-1",
			Flags: []string{"offload", "bench", "--quick", "--seed", "1"}, Seed: 1,
			Start: start, End: start.Add(14 * time.Minute), Quick: true,
		},
	}
	for _, s := range strategies {
		f.Runs = append(f.Runs, steady(s), cpu(s, "node"), cpu(s, "go"), burst(s))
		for _, sc := range []string{"worker-crash", "web-crash", "broker-restart", "mail-outage"} {
			f.Runs = append(f.Runs, fault(s, sc))
		}
		for _, w := range []int{1, 2, 4} {
			f.Runs = append(f.Runs, scale(s, w))
		}
	}
	f.Runs = append(f.Runs, capacity("baseline"))
	for _, s := range strategies {
		f.Runs = append(f.Runs, capacity(s))
	}
	for i, r := range f.Runs {
		if r.Strategy == "baseline" {
			f.Runs[i].Style = &results.Style{Order: -1, Label: "baseline (net/http + LPUSH)", Color: "#000000", Dash: []float64{6, 3}}
			continue
		}
		e, err := catalog.Lookup(r.Strategy)
		if err != nil {
			panic(err)
		}
		f.Runs[i].Style = e.ResultStyle(catalog.Variant{})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&f); err != nil {
		panic(err)
	}
}

func inProcess(s string) bool { return s == "foreground" || s == "fireforget" }

func pct(p50 float64, n int64) results.Percentiles {
	return results.Percentiles{Count: n, P50: p50, P90: r2(p50 * 1.6), P99: r2(p50 * 3.1), P999: r2(p50 * 5.2), Max: r2(p50 * 7.9)}
}

func r2(v float64) float64 { return math.Round(v*100) / 100 }

func base(s, scenario string) results.Run {
	n := int64(rate * duration)
	r := results.Run{
		Strategy: s, Scenario: scenario, Loop: "node", OfferedRPS: rate, DurationS: duration,
		Sent: n, Status: map[string]int{"202": int(n)}, Accepted: n, Delivered: n,
		ThroughputRPS:  results.Throughput{Offered: rate, Accepted: rate, Delivered: rate},
		LagMS:          results.Lag{P50: 0.4, P90: 0.9, P99: 1.8, Max: 3.1},
		SchedLatencyMS: results.Percentiles{Count: 5000, P50: 0.01, P90: 0.05, P99: 0.4, P999: 1.1, Max: 2.3},
		SendDelayMS:    results.Percentiles{Count: n, P50: 0.05, P90: 0.1, P99: 0.3, P999: 0.9, Max: 1.4},
	}
	http := map[string]float64{"foreground": 52, "fireforget": 0.6, "localipc": 0.8, "pubsub": 0.9, "queue": 1.1, "eventbus": 1.2}[s]
	e2e := map[string]float64{"foreground": 53, "fireforget": 52, "localipc": 58, "pubsub": 57, "queue": 61, "eventbus": 63}[s]
	r.HTTPLatencyMS = pct(http, n)
	r.ServiceLatencyMS = pct(http*0.95, n)
	r.E2ELatencyMS = pct(e2e, n)
	r.ProbeLatencyMS = pct(0.4, 200)
	if s == "foreground" {
		r.Status = map[string]int{"200": int(n)}
	}
	cpu := map[string]float64{"foreground": 3.1, "fireforget": 2.9, "localipc": 4.4, "pubsub": 5.0, "queue": 5.6, "eventbus": 6.1}[s]
	rss := map[string]float64{"foreground": 38, "fireforget": 37, "localipc": 71, "pubsub": 79, "queue": 83, "eventbus": 86}[s]
	r.CPUS = cpu
	r.CPUPer1kS = r2(cpu / float64(n) * 1000)
	r.PeakRSSMB = rss
	r.Processes = []results.ProcessUse{{Role: "web", CPUS: r2(cpu * 0.6), PeakRSSMB: 36}}
	if !inProcess(s) {
		r.Processes = append(r.Processes, results.ProcessUse{Role: "worker-1", CPUS: r2(cpu * 0.3), PeakRSSMB: r2(rss - 36)})
	}
	return r
}

func steady(s string) results.Run {
	r := base(s, "steady")
	h := r.HTTPLatencyMS
	r.Hey = &results.HeyResult{Requests: 3890, Concurrency: 50, RPS: 194.5,
		LatencyMS: results.Percentiles{Count: 3890, P50: r2(h.P50 * 0.9), P90: r2(h.P90 * 0.8), P99: r2(h.P99 * 0.5), Max: r2(h.Max * 0.6)}}
	return r
}

// cpu: 10 jobs/s of 50 ms CPU each. On the node loop, foreground and
// fireforget run them on the loop; under the go loop nobody blocks it.
func cpu(s, loop string) results.Run {
	r := base(s, "cpu")
	r.Loop = loop
	if loop != "node" {
		r.Variant = "loop=" + loop
	}
	r.OfferedRPS, r.Sent, r.Accepted, r.Delivered = 10, 200, 200, 200
	r.Status = map[string]int{"202": 200}
	r.ThroughputRPS = results.Throughput{Offered: 10, Accepted: 10, Delivered: 10}
	blocks := loop == "node" && inProcess(s)
	r.Timeseries = series(func(t float64) (o, a, d int64, lag float64) {
		lag = 0.8 + 0.6*math.Sin(t)
		if blocks {
			lag = 48 + 40*math.Abs(math.Sin(t*1.7))
		}
		return 5, 5, 5, r2(lag)
	}, nil)
	if blocks {
		r.LagMS = results.Lag{P50: 31, P90: 52, P99: 88, Max: 97.4, Blocks: 96}
		r.HTTPLatencyMS = pct(38, 200)
		r.ProbeLatencyMS = pct(26, 200)
	} else {
		r.LagMS = results.Lag{P50: 0.5, P90: 1.1, P99: 1.9, Max: 2.1}
		r.HTTPLatencyMS = pct(map[bool]float64{true: 51, false: 0.9}[s == "foreground"], 200)
	}
	r.Hey = &results.HeyResult{Requests: 180, Concurrency: 50, RPS: 9, LatencyMS: results.Percentiles{
		Count: 180, P50: r2(r.HTTPLatencyMS.P50 * 0.7), P90: r2(r.HTTPLatencyMS.P90 * 0.5), P99: r2(r.HTTPLatencyMS.P99 * 0.4), Max: r2(r.HTTPLatencyMS.Max * 0.5)}}
	return r
}

func burst(s string) results.Run {
	r := base(s, "burst")
	r.OfferedRPS = 1000
	r.Sent, r.Accepted, r.Delivered = 6000, 6000, 6000
	r.Status = map[string]int{"202": 6000}
	r.ThroughputRPS = results.Throughput{Offered: 300, Accepted: 300, Delivered: 300}
	r.HTTPLatencyMS = pct(map[bool]float64{true: 180, false: 2.4}[s == "foreground"], 6000)
	r.E2ELatencyMS = pct(900, 6000)
	return r
}

type shape func(t float64) (offered, accepted, delivered int64, lag float64)

// series samples fn every step and accumulates the backlog; f is the fault window.
func series(fn shape, f *results.Fault) []results.Point {
	var out []results.Point
	var backlog int64
	for i := 0; i < int(duration/step); i++ {
		t := float64(i) * step
		o, a, d, lag := fn(t)
		backlog += a - d
		if backlog < 0 {
			d += backlog
			backlog = 0
		}
		out = append(out, results.Point{T: t, Offered: o, Accepted: a, Delivered: d, Errors: o - a, Backlog: backlog, LagMaxMS: lag})
	}
	return out
}

var na = map[string]map[string]string{
	"worker-crash":   {"foreground": "no worker process: the job runs in the web process", "fireforget": "no worker process: the job runs in the web process"},
	"broker-restart": {"foreground": "no broker", "fireforget": "no broker", "localipc": "no broker: jobs travel over IPC"},
}

func fault(s, scenario string) results.Run {
	if reason := na[scenario][s]; reason != "" {
		return results.Run{Strategy: s, Scenario: scenario, Loop: "node", NAReason: reason}
	}
	r := base(s, scenario)
	kind := map[string]string{"worker-crash": "kill-worker", "web-crash": "kill-web", "broker-restart": "restart-redis", "mail-outage": "mail-outage"}[scenario]
	f := results.Fault{Kind: kind, StartS: 8, EndS: 10, Injected: true}
	if scenario == "mail-outage" {
		f.EndS = 13
	}
	r.Faults = []results.Fault{f}
	per := int64(rate * step)
	var lost, rejected, dups int64
	var recovery = 1.2
	down := func(t float64) bool { return t >= f.StartS && t < f.EndS }
	fn := func(t float64) (int64, int64, int64, float64) {
		a, d := per, per
		switch {
		case scenario == "web-crash" && down(t):
			a, d = 0, 0
		case scenario == "worker-crash" && down(t):
			d = 0
		case scenario == "broker-restart" && down(t) && (s == "queue" || s == "eventbus"):
			a, d = 0, 0
		case scenario == "broker-restart" && down(t):
			d = 0
		case scenario == "mail-outage" && down(t):
			d = 0
			if s == "foreground" {
				a = 0
			}
		case t >= f.EndS && t < f.EndS+3 && scenario != "web-crash" && !(s == "fireforget" && scenario == "mail-outage"):
			d = per * 3 // catching up
		}
		return per, a, d, 0.9
	}
	switch {
	case scenario == "web-crash":
		rejected = int64(rate * (f.EndS - f.StartS))
		if s == "fireforget" {
			lost = 23
		}
		recovery = 2.4
	case scenario == "worker-crash" && (s == "localipc" || s == "pubsub"):
		lost = map[string]int64{"localipc": 37, "pubsub": 29}[s]
	case scenario == "worker-crash":
		dups = map[string]int64{"queue": 2, "eventbus": 1}[s]
	case scenario == "broker-restart" && s == "pubsub":
		lost = 400
		recovery = 0.8
	case scenario == "broker-restart":
		rejected = 400
		recovery = 3.1
	case scenario == "mail-outage" && s == "foreground":
		rejected = 1000
	case scenario == "mail-outage" && s == "fireforget":
		lost = 1000
	case scenario == "mail-outage":
		recovery = 4.6
	}
	r.Timeseries = series(fn, &f)
	r.Rejected = rejected
	r.Accepted -= rejected
	r.Delivered = r.Accepted - lost
	r.Lost, r.Duplicates = lost, dups
	if rejected > 0 {
		code := map[string]string{"web-crash": "error", "broker-restart": "503", "mail-outage": "502"}[scenario]
		r.Status = map[string]int{"202": int(r.Accepted), code: int(rejected)}
		if code == "error" {
			r.TransportErrors = rejected
		}
	}
	r.ThroughputRPS.Accepted = r2(float64(r.Accepted) / duration)
	r.ThroughputRPS.Delivered = r2(float64(r.Delivered) / duration)
	if s == "fireforget" && scenario == "mail-outage" {
		r.RecoveryNote = "delivered rate never caught up: the jobs of the outage were dropped"
	} else {
		r.RecoveryS = &recovery
	}
	return r
}

// scale: 800 req/s, each worker delivers about 200 jobs/s. Redis pub/sub
// fans every job out to every subscriber, so more workers add duplicates,
// not throughput.
func scale(s string, workers int) results.Run {
	if inProcess(s) {
		return results.Run{Strategy: s, Scenario: "scale", Loop: "node", Variant: "workers=" + itoa(workers), Workers: workers, NAReason: "no worker processes to scale"}
	}
	r := base(s, "scale")
	r.Variant, r.Workers = "workers="+itoa(workers), workers
	r.OfferedRPS = 800
	r.Sent, r.Accepted = 16000, 16000
	r.Status = map[string]int{"202": 16000}
	per := map[string]float64{"localipc": 205, "pubsub": 198, "queue": 196, "eventbus": 192}[s]
	tput := math.Min(800*0.97, per*float64(workers)*(1-0.04*float64(workers-1)))
	if s == "pubsub" {
		tput = per * (1 + 0.01*float64(workers-1))
		r.Duplicates = int64(workers-1) * r.Accepted
	}
	r.Delivered = r.Accepted
	r.ThroughputRPS = results.Throughput{Offered: 800, Accepted: 800, Delivered: r2(tput)}
	r.E2ELatencyMS = pct(r2(60+40000/tput), r.Accepted)
	return r
}

// capacity is a ladder doubling from 500 req/s: answers keep up to the
// strategy's accept capacity, deliveries to its delivery capacity.
func capacity(s string) results.Run {
	accept := map[string]float64{"baseline": 12000, "foreground": 1500, "fireforget": 6000, "localipc": 5000,
		"pubsub": 7000, "queue": 9000, "eventbus": 7500}[s]
	delivery := map[string]float64{"foreground": 1500, "fireforget": 6000, "localipc": 900, "pubsub": 1100,
		"queue": 1000, "eventbus": 1200}[s]
	c := &results.Capacity{SLOMS: 50, MinRequests: 2000}
	judged := s != "baseline"
	r := results.Run{Strategy: s, Scenario: "capacity", Loop: "node", Status: map[string]int{}, Capacity: c}
	for x := 500.0; x <= 16000; x *= 2 {
		load := x / accept
		st := results.CapacityStep{OfferedRPS: x, AchievedRPS: r2(math.Min(x, accept*1.02)), DurationS: math.Max(1, 2000/x),
			HTTPLatencyMS: pct(r2(0.5+math.Pow(load, 4)), 2000), DeliveryJudged: judged,
			CPUMSPerJob: r2(0.2 + 0.1*load), RSSMB: 80, RSSKBPerJob: r2(0.5 * load),
			CPUCores: map[string]float64{"web": r2(math.Min(1.9, 1.9*load)), "bench": 0.3, "redis": 0.2}}
		st.HTTPLatencyMS.P99 = r2(2 + 40*math.Pow(load, 6))
		st.AcceptOK = x <= accept
		st.DeliveryOK = true
		if judged {
			st.DeliveredRPS = math.Min(x, delivery)
			st.E2ELatencyMS = pct(r2(20+30*math.Min(1, x/delivery)), 2000)
			if x > delivery {
				st.DeliveryOK, st.BacklogGrowthPerS = false, x-delivery
				judged = false
			}
		}
		st.Passed = st.AcceptOK && st.DeliveryOK
		if !st.DeliveryOK {
			st.FailedBecause, st.LimitedBy = "backlog grew", "workers"
			if c.DeliveryLimitedBy == "" {
				c.DeliveryLimitedBy, c.DeliveryEvidence = "workers", "1.95 of 2 cores busy (worker-1 0.98, web 0.6)"
			}
		}
		if !st.AcceptOK {
			st.FailedBecause, st.LimitedBy = "HTTP p99 above the 50 ms SLO", "web CPU"
			c.AcceptLimitedBy, c.AcceptEvidence = "web CPU", "1.9 of 2 cores busy (web 1.9, bench 0.3)"
		}
		c.Steps = append(c.Steps, st)
		if st.AcceptOK {
			c.MaxAcceptRPS = x
		}
		if s != "baseline" && st.DeliveryOK && x <= delivery {
			v := x
			c.MaxDeliveryRPS = &v
		}
		if !st.AcceptOK {
			break
		}
	}
	if s != "baseline" && c.MaxDeliveryRPS == nil {
		zero := 0.0
		c.MaxDeliveryRPS = &zero
	}
	c.LimitedBy = c.Steps[len(c.Steps)-1].LimitedBy
	for _, st := range c.Steps {
		if !st.Passed {
			c.LimitedBy = st.LimitedBy
			break
		}
	}
	return r
}

func itoa(n int) string { return string(rune('0' + n)) }
