package harness

import (
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/internal/latency"
	"github.com/offload/offload/results"
)

// Delivery is the sink's record of one job id.
type Delivery struct {
	First time.Time
	Count int
}

// FaultWindow is one injected fault on the wall clock.
type FaultWindow struct {
	Kind, Target, Detail string
	Start                time.Time
	Repair               time.Time // zero: never repaired
}

// LagSample is the worst loop lag in one bucket of the web's time series.
type LagSample struct {
	At    time.Time
	MaxMS float64
}

// Record is everything measured in one run, as plain values: the
// accountant's only input.
type Record struct {
	Start, End     time.Time // the measured phase
	DrainEnd       time.Time
	Requests       []Outcome
	Probes         []Outcome
	Deliveries     map[string]Delivery // by job id, this run's ids only
	Faults         []FaultWindow
	Lag            []LagSample
	Interval       time.Duration // time series bucket; default 100ms
	RecoveryWindow time.Duration // how long delivery must match the offered rate; default 1s
	RecoveryBound  time.Duration // recovery must begin this soon after the repair; default DefaultRecoveryBound
	// Interrupted: Ctrl-C ended the run, so accepted jobs not yet
	// delivered are in flight, not lost.
	Interrupted bool
}

// Accounting is the accountant's answer: the run's numbers and the raw
// histograms they were read from.
type Accounting struct {
	Run        results.Run
	Histograms map[string]*hdrhistogram.Histogram
}

// Account decides sent, accepted, delivered, lost and duplicates from the
// outcomes and the sink's record, reads latency percentiles off histograms,
// and computes recovery time and the time series.
func Account(rec Record) Accounting {
	if rec.Interval <= 0 {
		rec.Interval = 100 * time.Millisecond
	}
	if rec.RecoveryWindow <= 0 {
		rec.RecoveryWindow = time.Second
	}
	var r results.Run
	h := map[string]*hdrhistogram.Histogram{
		results.HistHTTP: newLatencyHist(), results.HistService: newLatencyHist(),
		results.HistE2E: newLatencyHist(), results.HistProbe: newLatencyHist(),
	}
	r.Status = map[string]int{}
	expected := map[string]bool{} // accepted io jobs: the sink owes us these
	for _, o := range rec.Requests {
		r.Sent++
		if o.Canceled {
			// Cut off by Ctrl-C: the server's answer was never waited for.
			r.Canceled++
			r.Status["canceled"]++
			continue
		}
		countStatus(&r, o)
		// Failed requests stay in the tail at their done - due: a request
		// that timed out is the slowest of all, not one that never was.
		recordMS(h[results.HistHTTP], o.Done.Sub(o.Due))
		recordMS(h[results.HistService], o.Done.Sub(o.Sent))
		if o.Timeout {
			r.Timeouts++
		}
		if !o.Accepted() {
			continue
		}
		r.Accepted++
		if o.Kind == "cpu" {
			r.CPUJobs++
			continue
		}
		expected[o.ID] = true
		if d, ok := rec.Deliveries[o.ID]; ok {
			recordMS(h[results.HistE2E], d.First.Sub(o.Due))
		}
	}
	for id, d := range rec.Deliveries {
		if !expected[id] {
			r.Unexpected += int64(d.Count)
			continue
		}
		r.Delivered++
		r.Duplicates += int64(d.Count - 1)
	}
	r.Lost = int64(len(expected)) - r.Delivered
	if rec.Interrupted {
		r.InFlight, r.Lost = r.Lost, 0
	}
	for _, o := range rec.Probes {
		if o.Status == 200 {
			recordMS(h[results.HistProbe], o.Done.Sub(o.Due))
		}
	}
	r.HTTPLatencyMS = percentiles(h[results.HistHTTP])
	r.ServiceLatencyMS = percentiles(h[results.HistService])
	r.E2ELatencyMS = percentiles(h[results.HistE2E])
	r.ProbeLatencyMS = percentiles(h[results.HistProbe])
	r.ThroughputRPS = throughput(rec, r)
	r.Timeseries = timeseries(rec, expected)
	r.Faults = faults(rec)
	r.RecoveryS, r.RecoveryNote = recovery(rec, expected, r.Timeseries)
	if len(rec.Faults) > 0 {
		r.RecoveryBoundS = round3(rec.recoveryBound().Seconds())
	}
	return Accounting{Run: r, Histograms: h}
}

func countStatus(r *results.Run, o Outcome) {
	switch {
	case o.Status == 0:
		r.TransportErrors++
		r.Status["error"]++
	case o.Status >= 400:
		r.Rejected++
		r.Status[strconv.Itoa(o.Status)]++
	default:
		r.Status[strconv.Itoa(o.Status)]++
	}
}

// The harness's short names for the latency package's one way of
// recording and reading a latency.
func recordMS(h *hdrhistogram.Histogram, d time.Duration)       { latency.Record(h, d) }
func percentiles(h *hdrhistogram.Histogram) results.Percentiles { return latency.Percentiles(h) }
func round3(v float64) float64                                  { return latency.Round3(v) }

func throughput(rec Record, r results.Run) results.Throughput {
	d := rec.End.Sub(rec.Start).Seconds()
	if d <= 0 {
		return results.Throughput{}
	}
	// Deliveries may run on into the drain; spread them over the time they took.
	last := rec.End
	for _, dl := range rec.Deliveries {
		if dl.First.After(last) {
			last = dl.First
		}
	}
	return results.Throughput{
		Offered:   round3(float64(r.Sent) / d),
		Accepted:  round3(float64(r.Accepted) / d),
		Delivered: round3(float64(r.Delivered) / last.Sub(rec.Start).Seconds()),
	}
}

func faults(rec Record) []results.Fault {
	out := []results.Fault{}
	for _, f := range rec.Faults {
		rf := results.Fault{Kind: f.Kind, Target: f.Target, Detail: f.Detail, Injected: !f.Start.IsZero(),
			StartS: round3(f.Start.Sub(rec.Start).Seconds())}
		if !f.Repair.IsZero() {
			rf.EndS = round3(f.Repair.Sub(rec.Start).Seconds())
		}
		out = append(out, rf)
	}
	return out
}

// bucket is the index of t's interval, or -1 outside [Start, DrainEnd).
func (rec Record) bucket(t time.Time) int {
	if t.Before(rec.Start) || !t.Before(rec.DrainEnd) {
		return -1
	}
	return int(t.Sub(rec.Start) / rec.Interval)
}

func timeseries(rec Record, expected map[string]bool) []results.Point {
	if !rec.DrainEnd.After(rec.Start) {
		return []results.Point{}
	}
	n := int((rec.DrainEnd.Sub(rec.Start) + rec.Interval - 1) / rec.Interval)
	pts := make([]results.Point, n)
	for i := range pts {
		pts[i].T = round3((time.Duration(i) * rec.Interval).Seconds())
	}
	add := func(t time.Time, f func(p *results.Point)) {
		if i := rec.bucket(t); i >= 0 && i < n {
			f(&pts[i])
		}
	}
	for _, o := range rec.Requests {
		add(o.Due, func(p *results.Point) { p.Offered++ })
		switch {
		case o.Accepted() && o.Kind != "cpu":
			add(o.Done, func(p *results.Point) { p.Accepted++ })
		case o.Accepted():
		default:
			add(o.Done, func(p *results.Point) { p.Errors++ })
		}
	}
	for id, d := range rec.Deliveries {
		if expected[id] {
			add(d.First, func(p *results.Point) { p.Delivered++ })
		}
	}
	for _, l := range rec.Lag {
		add(l.At, func(p *results.Point) { p.LagMaxMS = max(p.LagMaxMS, l.MaxMS) })
	}
	var acc, del int64
	for i := range pts {
		acc += pts[i].Accepted
		del += pts[i].Delivered
		pts[i].Backlog = acc - del
	}
	return pts
}
