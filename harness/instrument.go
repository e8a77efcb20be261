package harness

import (
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultSendDelayBound is the floor of the validity rule (PaceBound):
// below a millisecond of lateness no run is refused, however fast its
// answers, since the scheduler of a shared machine delays a goroutine by
// that much without any load of ours.
const DefaultSendDelayBound = time.Millisecond

// PaceShare is the share of a run's own HTTP p99 the generator's lateness
// may reach. A request sent late by d has d added to its latency from due;
// at a tenth of the p99, the worst the generator can have moved the p99 is
// about 10 %.
const PaceShare = 0.1

// PaceBound is the send-delay p99 above which a run's (or a capacity
// step's) timing is refused: max(floor, PaceShare × its HTTP p99). A slow
// server's p99 is not at the mercy of a millisecond of scheduler delay; a
// fast one's is, and is held to the floor.
func PaceBound(httpP99, floor time.Duration) time.Duration {
	if floor <= 0 {
		floor = DefaultSendDelayBound
	}
	return max(floor, time.Duration(PaceShare*float64(httpP99)))
}

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
// a connection left out; see ownPace) exceeded PaceBound(httpP99, floor).
// Steady, cpu, fault runs and capacity steps are all judged by it. Counts
// (loss, duplicates) stay exact either way; only timing is refused.
func Validity(fired, recorded int, ownDelay *hdrhistogram.Histogram, httpP99, floor time.Duration) string {
	if fired != recorded {
		return fmt.Sprintf("the generator fired %d requests but recorded %d outcomes", fired, recorded)
	}
	return paceVerdict(ownDelay, httpP99, floor)
}

// paceVerdict is the lateness half of Validity.
func paceVerdict(ownDelay *hdrhistogram.Histogram, httpP99, floor time.Duration) string {
	if ownDelay == nil || ownDelay.TotalCount() == 0 {
		return ""
	}
	if floor <= 0 {
		floor = DefaultSendDelayBound
	}
	bound := PaceBound(httpP99, floor)
	p99 := time.Duration(ownDelay.ValueAtQuantile(99)) * time.Microsecond
	if p99 <= bound {
		return ""
	}
	return fmt.Sprintf("generator fell behind its schedule: p99 send delay (due -> written) %.2fms (max %.2fms) exceeds %.2fms, the larger of %.2fms and a tenth of the HTTP p99 (%.2fms), so it could have moved that p99 by more than 10%%; the machine could not keep the offered rate (lower --rate, or raise --max-send-delay)",
		ms(p99), ms(time.Duration(ownDelay.Max())*time.Microsecond), ms(bound), ms(floor), ms(httpP99))
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
