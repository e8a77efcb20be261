package results

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Drain is one drain of a pre-filled backlog: Jobs were enqueued with the
// workers stopped, then the workers started and the backlog was timed from
// its first delivery to its last at the sink. This is the standard
// consumer-throughput test: no warm-up step and no offered rate can blur
// it, because the workers always have work waiting.
type Drain struct {
	Jobs        int `json:"jobs"`        // requests sent to fill the backlog
	Accepted    int `json:"accepted"`    // of those, answered 2xx: the backlog K
	Delivered   int `json:"delivered"`   // of the backlog, delivered at least once
	Duplicates  int `json:"duplicates"`  // deliveries beyond the first
	Early       int `json:"early"`       // delivered before the workers started (must be 0)
	Workers     int `json:"workers"`     // worker processes started for the drain
	Concurrency int `json:"concurrency"` // senders per worker (--concurrency)
	// FillS is how long filling took; DrainS first to last delivery;
	// StartS the workers' start to the first delivery.
	FillS  float64 `json:"fill_s"`
	StartS float64 `json:"start_s"`
	DrainS float64 `json:"drain_s"`
	// RPS is the drain rate: deliveries after the first per second of
	// DrainS. PerWorkerRPS is RPS over Workers.
	RPS          float64 `json:"rps"`
	PerWorkerRPS float64 `json:"per_worker_rps"`
	Complete     bool    `json:"complete"` // every accepted job delivered within the bound
	// CPU per delivery over the drain, in milliseconds, by what spent it:
	// "workers" (every worker process), "broker" (redis-server, or the web
	// process when it is the zmq broker), "web", "sink" (the bench process:
	// the mail sink), and "total".
	CPUMSPerJob map[string]float64 `json:"cpu_ms_per_job"`
	// CPUCores is cores busy on average per role over the drain.
	CPUCores map[string]float64 `json:"cpu_cores"`
	// MachineBusy is the share of all cores busy over the drain, read
	// from /proc/stat: every process on the machine, not only ours.
	MachineBusy float64 `json:"machine_busy"`
	// SinkInFlight is messages in an SMTP transaction at the sink on
	// average, against Workers x Concurrency senders.
	SinkInFlight float64 `json:"sink_in_flight"`
	// Throttled is answers 421/454 the provider gave during the drain.
	Throttled int64 `json:"throttled"`
}

// Scaling is the scale scenario's verdict for one strategy, over its runs
// at 1, 2, 4 and 8 workers.
type Scaling struct {
	Strategy string       `json:"strategy"`
	Variant  string       `json:"variant,omitempty"`
	Points   []ScalePoint `json:"points"`
}

// ScalePoint is one worker count of the sweep.
type ScalePoint struct {
	Workers     int     `json:"workers"`
	Concurrency int     `json:"concurrency"`
	RPS         float64 `json:"rps"`
	// LinearRPS is Workers times the one-worker drain rate; Efficiency is
	// RPS over it.
	LinearRPS  float64 `json:"linear_rps"`
	Efficiency float64 `json:"efficiency"`
	// BentBy names what held the line below linear: "provider limit",
	// "broker CPU", "machine CPU" or "senders"; "" while efficiency stays
	// at or above ScaleLinear.
	BentBy   string  `json:"bent_by,omitempty"`
	Evidence string  `json:"evidence,omitempty"`
	CPUMS    float64 `json:"cpu_ms_per_delivery"` // all of the strategy's processes
}

// ScaleLinear is the efficiency at or above which a point counts as linear.
const ScaleLinear = 0.8

// Throttle is the throttle scenario's account of one run: the provider's
// rate limit held for HoldS, then lifted.
type Throttle struct {
	LimitRPS   float64 `json:"limit_rps"`   // the provider's limit while it held
	DrainRPS   float64 `json:"drain_rps"`   // the strategy's drain rate it was sized from
	OfferedRPS float64 `json:"offered_rps"` // the load: the full drain rate
	HoldS      float64 `json:"hold_s"`      // how long the limit held, from the start of the load
	LoadS      float64 `json:"load_s"`      // how long the load ran
	Throttled  int64   `json:"throttled"`   // answers 421/454 the provider gave
	Retries    int64   `json:"retries"`     // the workers' retries, from their metrics (-1: not known)
	Lost       int64   `json:"lost"`        // accepted, not delivered by the end of the drain after the lift
	DeadLetter int64   `json:"dead_letter"` // of Lost, left in a failed or dead-letter list
	Duplicates int64   `json:"duplicates"`
	// BacklogPeak is the most jobs accepted and not yet delivered at once;
	// DrainAfterLiftS the time from the lift until the backlog was empty
	// (nil: it never emptied).
	BacklogPeak     int64    `json:"backlog_peak"`
	DrainAfterLiftS *float64 `json:"drain_after_lift_s"`
	// HeldRPS is the delivered rate while the limit held, after its first
	// second (the backlog builds then); HeldShare is HeldRPS over LimitRPS.
	HeldRPS   float64 `json:"held_rps"`
	HeldShare float64 `json:"held_share"`
	// Series is deliveries per second against the limit, one point a
	// second from the start of the load.
	Series []ThrottlePoint `json:"series"`
}

// ThrottlePoint is one second of the throttle run.
type ThrottlePoint struct {
	T         float64 `json:"t_s"`
	Delivered float64 `json:"delivered_rps"`
	LimitRPS  float64 `json:"limit_rps"` // 0 once lifted
	Throttled int64   `json:"throttled"`
	Backlog   int64   `json:"backlog"`
}

// Saturation a scale point is blamed on: a one-threaded broker at this
// share of a core, the machine at this share of all its cores.
const (
	brokerSaturated  = 0.85
	machineSaturated = 0.85
)

// ScaleVerdicts reads the scale runs' drains into one verdict per strategy
// and variant, in the order the runs came: the efficiency of each worker
// count against the one-worker drain times the count, and, where the line
// bent, what bent it.
func ScaleVerdicts(runs []Run) []Scaling {
	var out []Scaling
	idx := map[string]int{}
	for _, r := range runs {
		if r.Scenario != "scale" || r.Drain == nil || r.NAReason != "" || r.Drain.RPS <= 0 {
			continue
		}
		v := baseVariant(r.Variant)
		key := r.Strategy + "\x00" + v
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, Scaling{Strategy: r.Strategy, Variant: v})
		}
		d := r.Drain
		out[i].Points = append(out[i].Points, ScalePoint{Workers: d.Workers, Concurrency: d.Concurrency, RPS: d.RPS,
			CPUMS: d.CPUMSPerJob["total"]})
		bent, why := bentBy(*d)
		p := &out[i].Points[len(out[i].Points)-1]
		p.BentBy, p.Evidence = bent, why
	}
	for i := range out {
		pts := out[i].Points
		var one float64
		for _, p := range pts {
			if p.Workers == 1 {
				one = p.RPS
			}
		}
		for j := range pts {
			p := &pts[j]
			if one <= 0 {
				p.BentBy, p.Evidence = "", ""
				continue
			}
			p.LinearRPS = one * float64(p.Workers)
			p.Efficiency = math.Round(p.RPS/p.LinearRPS*1000) / 1000
			if p.Efficiency >= ScaleLinear {
				p.BentBy, p.Evidence = "", ""
			}
		}
	}
	return out
}

// bentBy names what held a drain below linear, from the drain's own
// evidence: throttling answers, the broker's core, the machine's cores,
// else the senders themselves (each waits out the provider's latency).
func bentBy(d Drain) (string, string) {
	broker := d.CPUCores["redis"]
	brokerRole := "redis-server"
	if d.CPUMSPerJob["broker"] > 0 && broker == 0 {
		broker, brokerRole = d.CPUCores["web"], "the web process (the zmq broker)"
	}
	evidence := fmt.Sprintf("%s ms CPU per delivery (workers %s, broker %s); %s busy of the machine; %s broker %s cores; %s of %d senders in flight at the sink",
		fmtF(d.CPUMSPerJob["total"]), fmtF(d.CPUMSPerJob["workers"]), fmtF(d.CPUMSPerJob["broker"]),
		pct(d.MachineBusy), brokerRole, fmtF(broker), fmtF(d.SinkInFlight), d.Workers*d.Concurrency)
	switch {
	case d.Throttled > 0:
		return "provider limit", fmt.Sprintf("%d answers 421/454; %s", d.Throttled, evidence)
	case broker >= brokerSaturated:
		return "broker CPU", evidence
	case d.MachineBusy >= machineSaturated:
		return "machine CPU", evidence
	}
	return "senders", evidence
}

// baseVariant drops the scale scenario's " workers=N" from a run's variant.
func baseVariant(v string) string {
	f := strings.Fields(v)
	out := f[:0]
	for _, s := range f {
		if !strings.HasPrefix(s, "workers=") {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func pct(v float64) string  { return strconv.FormatFloat(100*v, 'f', 0, 64) + " %" }
