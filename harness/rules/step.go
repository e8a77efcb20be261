package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/internal/latency"
	"github.com/offload/offload/results"
)

// Request is one request of a step, as the rules need it: when it was due,
// when its answer came (or it gave up), and whether it was accepted (2xx).
type Request struct {
	ID        string
	Due, Done time.Time
	Accepted  bool
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

// StepRetries is how many times a step that failed only because the
// generator fell behind is offered again before that failure counts.
const StepRetries = 2

// Step is what one step measured, as plain values.
type Step struct {
	Offered    float64
	Start, End time.Time // the measured part: requests due in [Start, End)
	Requests   []Request // the requests due in the measured part
	// Accepts and Deliveries are every 2xx answer's time and every first
	// delivery's time of the whole ladder so far (backlog is their
	// difference, so earlier steps' stragglers count too).
	Accepts, Deliveries []time.Time
	Delivered           map[string]time.Time // first delivery by id, at judging time
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
func (s Step) OwnSendDelayP99() time.Duration {
	return latency.P99(s.OwnSendDelay)
}

// Verdict is a judged step: the figures results.json keeps, without the
// resource evidence (added by the caller).
type Verdict struct {
	results.CapacityStep
	Reasons []string
	// OnlyBehind: the generator's lateness was the step's one failure,
	// which says nothing about the server; the ladder offers the rate
	// again (StepRetries) before it counts.
	OnlyBehind bool
	HTTP, E2E  *hdrhistogram.Histogram
	// Behind is the validity rule's verdict on the generator ("" when its
	// lateness could not have moved the step's p99 by 10 %).
	Behind string
}

// Judge applies rule to one step.
func (rule StepRule) Judge(s Step) Verdict {
	d := s.End.Sub(s.Start).Seconds()
	v := Verdict{HTTP: latency.New(), E2E: latency.New()}
	st := &v.CapacityStep
	st.OfferedRPS, st.DurationS, st.DeliveryJudged = s.Offered, latency.Round3(d), s.JudgeDelivery
	st.SendDelayP99MS = latency.Round3(float64(s.SendDelayP99) / float64(time.Millisecond))
	var accepted, undelivered int64
	for _, o := range s.Requests {
		st.Requests++
		// An answer that never came is in the tail at the time it gave up:
		// leaving it out would let the slowest requests vanish from p99.
		latency.Record(v.HTTP, o.Done.Sub(o.Due))
		if !o.Accepted {
			st.Failed++
			continue
		}
		accepted++
		if first, ok := s.Delivered[o.ID]; ok {
			latency.Record(v.E2E, first.Sub(o.Due))
		} else {
			undelivered++
		}
	}
	if d > 0 {
		st.AchievedRPS = latency.Round3(float64(accepted) / d)
		st.DeliveredRPS = latency.Round3(float64(countIn(s.Deliveries, s.Start, s.End)) / d)
	}
	st.HTTPLatencyMS, st.E2ELatencyMS = latency.Percentiles(v.HTTP), latency.Percentiles(v.E2E)
	st.BacklogGrowthPerS = latency.Round3(BacklogSlope(s.Accepts, s.Deliveries, s.Start, s.End))
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
	st.SendDelayBoundMS = latency.Round3(ms(Bound(httpP99, s.PaceFloor)))
	if v.Behind = Pace(s.OwnSendDelay, httpP99, s.PaceFloor); v.Behind != "" {
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
	v.OnlyBehind = v.Behind != "" && len(v.Reasons) == 1
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
