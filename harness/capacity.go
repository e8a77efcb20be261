package harness

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/results"
)

// The capacity scenario asks how much load a strategy takes before it falls
// over. Everything in this file is arithmetic on recorded values (no clock,
// no processes), so the rules are tested with made-up timestamps; ladder.go
// runs the ladder against real processes.

// Ladder is the capacity scenario's open-loop rate steps, chosen by a
// Climb: from Start by Factor up to Max, ending after Failures consecutive
// failing steps, then bisected to within Precision. Each step is long
// enough for MinRequests measured requests after its warm-up, within
// [MinStep, MaxStep]: the low rates that let every strategy pass its first
// step would otherwise take a minute each.
type Ladder struct {
	Start, Factor, Max float64
	Failures           int     // consecutive failing steps that end the climb
	Precision          float64 // the knee is bisected to within this share
	MinRequests        int
	MinStep            time.Duration // a step's measured part is never shorter
	MaxStep            time.Duration // nor longer (0: no limit)
	Warmup             time.Duration // each step's discarded lead-in, at the step's rate
	FirstWarmup        time.Duration // the first step's, long enough for a self-sizing worker to grow
	// Settle bounds the wait, after a step, for the jobs it accepted to be
	// delivered before the next step starts (longer while deliveries are
	// still arriving, up to twice as long).
	Settle time.Duration
}

// Climb is a fresh climb over the ladder's rates.
func (l Ladder) Climb() *Climb {
	return &Climb{Floor: l.Start, Factor: l.Factor, Max: l.Max, Failures: max(1, l.Failures), Precision: l.Precision}
}

// StepLength is the measured part of a step at rate.
func (l Ladder) StepLength(rate float64) time.Duration {
	need := time.Duration(float64(l.MinRequests) / rate * float64(time.Second))
	d := max(l.MinStep, need.Round(time.Millisecond))
	if l.MaxStep > 0 {
		d = min(d, max(l.MinStep, l.MaxStep))
	}
	return d
}

// Quiet is how long no delivery may arrive before an accepted job still
// not delivered counts as lost. Before that it is backlog: a strategy still
// delivering is late, not losing.
const Quiet = time.Second

// StepRule is when a step passes. Answers: at least MinAchieved of the
// offered rate accepted, and HTTP p99 from due within SLO. Deliveries: the
// backlog grows by no more than BacklogTolerance of the offered rate per
// second, and nothing is lost.
type StepRule struct {
	SLO              time.Duration
	MinAchieved      float64 // 0.95
	BacklogTolerance float64 // 0.05
}

// DefaultRule is the rule with the default SLO of 50 ms.
func DefaultRule() StepRule {
	return StepRule{SLO: 50 * time.Millisecond, MinAchieved: 0.95, BacklogTolerance: 0.05}
}

// StepRecord is what one step measured, as plain values.
type StepRecord struct {
	Offered    float64
	Start, End time.Time // the measured part: requests due in [Start, End)
	Requests   []Outcome // the requests due in the measured part
	// Accepts and Deliveries are every 2xx answer's time and every first
	// delivery's time of the whole ladder so far (backlog is their
	// difference, so earlier steps' stragglers count too).
	Accepts, Deliveries []time.Time
	Delivered           map[string]Delivery // by id, at judging time
	// Quiet is how long no delivery had arrived when the step was judged:
	// from Quiet on, an accepted job not yet delivered is lost, not late.
	Quiet time.Duration
	// JudgeDelivery is false for the baseline (it only enqueues) and two
	// failing steps past the delivery knee, where the backlog left by
	// earlier steps makes deliveries meaningless to judge.
	JudgeDelivery bool
	// SendDelayP99 is the generator's lateness, due -> written;
	// OwnSendDelay the same without waits for a connection (ownPace), which
	// the validity rule judges against PaceFloor and the step's HTTP p99.
	SendDelayP99 time.Duration
	OwnSendDelay *hdrhistogram.Histogram
	PaceFloor    time.Duration
}

// OwnSendDelayP99 is the p99 the validity rule judged (0: none recorded).
func (s StepRecord) OwnSendDelayP99() time.Duration {
	if s.OwnSendDelay == nil {
		return 0
	}
	return time.Duration(s.OwnSendDelay.ValueAtQuantile(99)) * time.Microsecond
}

// StepVerdict is a judged step: the figures results.json keeps, without the
// resource evidence (added by the caller).
type StepVerdict struct {
	results.CapacityStep
	Reasons   []string
	HTTP, E2E *hdrhistogram.Histogram
	// Behind is the validity rule's verdict on the generator ("" when its
	// lateness could not have moved the step's p99 by 10 %).
	Behind string
}

// Judge applies rule to one step.
func (rule StepRule) Judge(s StepRecord) StepVerdict {
	d := s.End.Sub(s.Start).Seconds()
	v := StepVerdict{HTTP: newLatencyHist(), E2E: newLatencyHist()}
	st := &v.CapacityStep
	st.OfferedRPS, st.DurationS, st.DeliveryJudged = s.Offered, round3(d), s.JudgeDelivery
	st.SendDelayP99MS = round3(float64(s.SendDelayP99) / float64(time.Millisecond))
	var accepted, undelivered int64
	for _, o := range s.Requests {
		st.Requests++
		// An answer that never came is in the tail at the time it gave up:
		// leaving it out would let the slowest requests vanish from p99.
		recordMS(v.HTTP, o.Done.Sub(o.Due))
		if !o.Accepted() {
			st.Failed++
			continue
		}
		accepted++
		if dl, ok := s.Delivered[o.ID]; ok {
			recordMS(v.E2E, dl.First.Sub(o.Due))
		} else {
			undelivered++
		}
	}
	if d > 0 {
		st.AchievedRPS = round3(float64(accepted) / d)
		st.DeliveredRPS = round3(float64(countIn(s.Deliveries, s.Start, s.End)) / d)
	}
	st.HTTPLatencyMS, st.E2ELatencyMS = percentiles(v.HTTP), percentiles(v.E2E)
	st.BacklogGrowthPerS = round3(BacklogSlope(s.Accepts, s.Deliveries, s.Start, s.End))
	if s.JudgeDelivery {
		if s.Quiet >= Quiet {
			st.Lost = undelivered
		} else {
			st.Undelivered = undelivered
		}
	}

	st.AcceptOK, st.DeliveryOK = true, true
	fail := func(accept bool, format string, args ...any) {
		v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
		if accept {
			st.AcceptOK = false
		} else {
			st.DeliveryOK = false
		}
	}
	httpP99 := time.Duration(st.HTTPLatencyMS.P99 * float64(time.Millisecond))
	st.SendDelayBoundMS = round3(ms(PaceBound(httpP99, s.PaceFloor)))
	if v.Behind = paceVerdict(s.OwnSendDelay, httpP99, s.PaceFloor); v.Behind != "" {
		fail(true, "the generator fell behind its schedule (send delay p99 %s ms, above %s ms)", fmtMS(st.SendDelayP99MS), fmtMS(st.SendDelayBoundMS))
	}
	if s.Offered > 0 && st.AchievedRPS < rule.MinAchieved*s.Offered {
		fail(true, "achieved %s of %s req/s offered (%.0f%%, below %.0f%%)",
			fmtRate(st.AchievedRPS), fmtRate(s.Offered), 100*st.AchievedRPS/s.Offered, 100*rule.MinAchieved)
	}
	slo := float64(rule.SLO) / float64(time.Millisecond)
	if p99 := st.HTTPLatencyMS.P99; p99 > slo {
		fail(true, "HTTP p99 %s ms from due, above the %s ms SLO", fmtMS(p99), fmtMS(slo))
	}
	if s.JudgeDelivery {
		if limit := rule.BacklogTolerance * s.Offered; st.BacklogGrowthPerS > limit {
			fail(false, "backlog grew %s jobs/s (more than %.0f%% of the offered rate, %s)",
				fmtRate(st.BacklogGrowthPerS), 100*rule.BacklogTolerance, fmtRate(limit))
		}
		if st.Lost > 0 {
			fail(false, "lost %d accepted jobs", st.Lost)
		}
	}
	st.Passed = st.AcceptOK && st.DeliveryOK
	st.FailedBecause = strings.Join(v.Reasons, "; ")
	return v
}

func countIn(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// backlogInterval is how often BacklogSlope samples the backlog.
const backlogInterval = 50 * time.Millisecond

// BacklogSlope fits a least-squares line to accepted − delivered, sampled
// every backlogInterval over [from, to), and returns its slope in jobs per
// second. A pipeline that keeps up holds a constant backlog (the jobs in
// flight), whatever its size; one that falls behind grows it at the rate it
// falls behind.
func BacklogSlope(accepts, deliveries []time.Time, from, to time.Time) float64 {
	a, d := sortedTimes(accepts), sortedTimes(deliveries)
	var xs, ys []float64
	for t := from; t.Before(to); t = t.Add(backlogInterval) {
		na := sort.Search(len(a), func(i int) bool { return a[i].After(t) })
		nd := sort.Search(len(d), func(i int) bool { return d[i].After(t) })
		xs = append(xs, t.Sub(from).Seconds())
		ys = append(ys, float64(na-nd))
	}
	return slope(xs, ys)
}

func sortedTimes(ts []time.Time) []time.Time {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

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

func trimFloat(v float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Summarize reads the figures off judged steps, in the order they ran: the
// highest offered rate whose answers kept up, the highest whose deliveries
// (and answers) kept up (nil when no step judged deliveries), and the
// deliveries the sink saw at the busiest judged step that fell behind,
// with its messages in flight and, by Little's law, the time each one
// took. A failure below a later pass does not lower a figure: the climb
// treats it as noise, and so does the summary.
func Summarize(slo time.Duration, minRequests int, steps []results.CapacityStep) results.Capacity {
	c := results.Capacity{SLOMS: float64(slo) / float64(time.Millisecond), Steps: steps, MinRequests: minRequests}
	var delivery *float64
	judged := false
	for _, s := range steps {
		if s.AcceptOK {
			c.MaxAcceptRPS = max(c.MaxAcceptRPS, s.OfferedRPS)
		}
		if !s.DeliveryJudged {
			continue
		}
		judged = true
		if s.DeliveryOK && s.AcceptOK && (delivery == nil || s.OfferedRPS > *delivery) {
			v := s.OfferedRPS
			delivery = &v
		}
		if !s.DeliveryOK && s.DeliveredRPS > c.SaturatedDeliveryRPS {
			c.SaturatedDeliveryRPS, c.SaturatedInFlight = s.DeliveredRPS, s.SinkInFlight
		}
	}
	if c.SaturatedDeliveryRPS > 0 {
		c.SaturatedServiceMS = round3(c.SaturatedInFlight / c.SaturatedDeliveryRPS * 1000)
	}
	if judged {
		if delivery == nil {
			zero := 0.0
			delivery = &zero
		}
		c.MaxDeliveryRPS = delivery
	}
	// What broke first: the failing step just above each figure.
	if at := failingAbove(steps, c.MaxAcceptRPS, func(s results.CapacityStep) bool { return !s.AcceptOK }); at != nil {
		c.AcceptLimitedBy, c.AcceptEvidence = at.AcceptLimitedBy, at.AcceptEvidence
	}
	if delivery != nil {
		if at := failingAbove(steps, *delivery, func(s results.CapacityStep) bool { return s.DeliveryJudged && !s.DeliveryOK }); at != nil {
			c.DeliveryLimitedBy, c.DeliveryEvidence = at.DeliveryLimitedBy, at.DeliveryEvidence
		}
	}
	// The run's one limit is the one that broke at the lower rate.
	c.LimitedBy = cmp.Or(c.AcceptLimitedBy, c.DeliveryLimitedBy)
	if c.DeliveryLimitedBy != "" && *delivery < c.MaxAcceptRPS {
		c.LimitedBy = c.DeliveryLimitedBy
	}
	c.Ceiling = c.LimitedBy == ""
	return c
}

// failingAbove is the lowest step above rate that failed (nil: none).
func failingAbove(steps []results.CapacityStep, rate float64, failed func(results.CapacityStep) bool) *results.CapacityStep {
	var at *results.CapacityStep
	for i := range steps {
		s := &steps[i]
		if failed(*s) && s.OfferedRPS > rate && (at == nil || s.OfferedRPS < at.OfferedRPS) {
			at = s
		}
	}
	return at
}
