package harness

import (
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/harness/rules"
)

// DefaultSendDelayBound is the validity rule's floor (rules.Floor), the
// default of --max-send-delay.
const DefaultSendDelayBound = rules.Floor

// sendDelays is the histogram of each request's due -> written delay
// (microseconds): how late the generator really was, goroutine start,
// connection pool and dial included. Requests that never reached their
// connection (refused, cut off) have no such delay and are not in it.
func sendDelays(outs []Outcome) *hdrhistogram.Histogram {
	h := newLatencyHist()
	for _, o := range outs {
		if !o.Wrote.IsZero() {
			recordMS(h, o.Wrote.Sub(o.Due))
		}
	}
	return h
}

// ownPace is outs without the requests that waited for a connection: every
// connection carried a request the server had not answered, so that wait
// is the server's, and it is in their latency from due already. The
// generator is judged on the others, in every scenario alike.
func ownPace(outs []Outcome) []Outcome {
	var own []Outcome
	for _, o := range outs {
		if !o.ConnWait {
			own = append(own, o)
		}
	}
	return own
}

// Validity judges the instrument itself and says why a run's timing must
// not be trusted ("" when it may): the generator fired requests it has no
// outcome for, or the p99 of its own send delay (due -> written, waits for
// a connection left out; see ownPace) exceeded rules.Bound(httpP99, floor).
// Steady, cpu, fault runs and capacity steps are all judged by it. Counts
// (loss, duplicates) stay exact either way; only timing is refused.
func Validity(fired, recorded int, ownDelay *hdrhistogram.Histogram, httpP99, floor time.Duration) string {
	if fired != recorded {
		return fmt.Sprintf("the generator fired %d requests but recorded %d outcomes", fired, recorded)
	}
	return rules.Pace(ownDelay, httpP99, floor)
}

// cpuTime is this process's user+system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuShare is cpu as a share of the whole machine over wall.
func cpuShare(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return round3(cpu.Seconds() / (wall.Seconds() * float64(runtime.NumCPU())))
}

func (t Timing) sendDelayBound() time.Duration {
	if t.SendDelayBound > 0 {
		return t.SendDelayBound
	}
	return DefaultSendDelayBound
}
