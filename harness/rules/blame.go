package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Limits a step can name as what broke first.
const (
	LimitGenerator = "generator"
	LimitWebCPU    = "web CPU"
	LimitLoopLag   = "loop lag"
	LimitBroker    = "broker"
	LimitWorkers   = "workers"
	LimitSMTP      = "SMTP concurrency"
	LimitMachine   = "machine CPU"
	LimitUnknown   = "unknown"
	// LimitExternal: a server the bench did not start, with no processes
	// named to read (--target-pid).
	LimitExternal = "external, not observed"
)

// Evidence is what the run collected about its processes during one step.
type Evidence struct {
	Cores int
	// CPU is cores busy on average per role: web, supervisor/...,
	// worker-N, audit, redis and redis-N, and bench (the generator and
	// mail sink).
	CPU          map[string]float64
	Loop         string  // node, go, threads
	LagP99MS     float64 // the web loop's
	SendDelayP99 time.Duration
	Behind       bool // the generator fell behind its schedule
	// SinkInFlight is messages in an SMTP transaction at the sink, on
	// average: with no CPU saturated, deliveries are then waiting on the
	// provider's round trips, as many at once as the senders allow.
	SinkInFlight float64
	// Senders is how many mails the strategy can have in flight at once,
	// over all its sending processes (0: no cap, or not known).
	Senders int
	// Observed is false when the bench could read no process of the
	// system under test (an external target without --target-pid).
	Observed bool
}

// Saturation thresholds: a single-threaded process at this share of a core
// is saturated; the machine at this share of all its cores is; the senders
// at this share of their cap are all busy.
const (
	saturatedCore    = 0.85
	saturatedMachine = 0.85
	saturatedSenders = 0.9
	// laggingMS is loop lag that means the web loop itself is the queue.
	laggingMS = 10
)

// Blame names what broke first at a failing step, and the numbers it was
// named from. accept says whether the answers failed (else only the
// deliveries did). A single-threaded role (a node loop, each
// redis-server) is compared with one core, not with the machine.
func Blame(e Evidence, accept bool) (string, string) {
	if !e.Observed {
		detail := "the bench did not start this server and reads none of its processes: name them with --target-pid PID,..."
		if e.Behind {
			return LimitGenerator, fmt.Sprintf("send delay p99 %s ms; %s", fmtMS(ms(e.SendDelayP99)), detail)
		}
		return LimitExternal, detail
	}
	cores := float64(max(1, e.Cores))
	var total, web, workers, broker, brokers float64
	nWorkers := 0
	for role, c := range e.CPU {
		total += c
		switch {
		case role == "web" || role == "supervisor" || role == "supervisor/serve":
			web += c
		case strings.HasPrefix(role, "worker-") || role == "supervisor/work":
			workers += c
			nWorkers++
		case role == "redis" || strings.HasPrefix(role, "redis-"):
			broker, brokers = max(broker, c), brokers+c
		}
	}
	bench := e.CPU["bench"]
	webCap := cores
	if e.Loop == "node" {
		webCap = 1 // the loop is one thread, whatever the machine has
	}
	detail := fmt.Sprintf("%s of %d cores busy (%s)", fmtCores(total), e.Cores, cpuList(e.CPU))
	if e.LagP99MS > 0 {
		detail += fmt.Sprintf("; loop lag p99 %s ms", fmtMS(e.LagP99MS))
	}
	if e.SinkInFlight > 0 {
		detail += fmt.Sprintf("; %s messages in flight at the sink", fmtCores(e.SinkInFlight))
		if e.Senders > 0 {
			detail += fmt.Sprintf(" of %d senders", e.Senders)
		}
	}
	machine := total >= saturatedMachine*cores
	sendersFull := e.Senders > 0 && e.SinkInFlight >= saturatedSenders*float64(e.Senders)
	switch {
	case e.Behind:
		return LimitGenerator, fmt.Sprintf("send delay p99 %s ms; %s", fmtMS(ms(e.SendDelayP99)), detail)
	case broker >= saturatedCore:
		return LimitBroker, detail // a redis-server runs commands on one thread
	case e.LagP99MS >= laggingMS && (accept || nWorkers == 0):
		return LimitLoopLag, detail
	}
	if accept || nWorkers == 0 {
		switch {
		case web >= saturatedCore*webCap || machine && web >= max(workers, brokers, bench):
			return LimitWebCPU, detail
		case machine && bench >= max(web, workers, brokers):
			return LimitGenerator, detail
		case sendersFull:
			// An answer that waits for its mail waits for a sender.
			return LimitSMTP, detail
		case machine:
			return LimitMachine, detail
		case !accept && e.SinkInFlight >= 1:
			return LimitSMTP, detail
		}
		return LimitUnknown, detail
	}
	switch {
	case workers >= saturatedCore*float64(min(nWorkers, int(cores))):
		return LimitWorkers, detail
	case sendersFull:
		return LimitSMTP, detail
	case machine && workers >= max(web, brokers, bench):
		return LimitWorkers, detail
	case machine:
		return LimitMachine, detail
	case e.SinkInFlight >= 1:
		return LimitSMTP, detail
	}
	return LimitUnknown, detail
}

func cpuList(cpu map[string]float64) string {
	roles := make([]string, 0, len(cpu))
	for r := range cpu {
		roles = append(roles, r)
	}
	slices.SortFunc(roles, func(a, b string) int {
		if c := cmp.Compare(cpu[b], cpu[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(roles))
	for _, r := range roles {
		parts = append(parts, r+" "+fmtCores(cpu[r]))
	}
	return strings.Join(parts, ", ")
}

func fmtCores(v float64) string { return fmt.Sprintf("%.2f", v) }
func fmtMS(v float64) string    { return trimFloat(v, 1) }
func fmtRate(v float64) string  { return trimFloat(v, 0) }

// FormatMS and FormatRate write milliseconds and rates as the rules'
// reasons do, for the harness's logs to match them.
func FormatMS(v float64) string   { return fmtMS(v) }
func FormatRate(v float64) string { return fmtRate(v) }

func trimFloat(v float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
