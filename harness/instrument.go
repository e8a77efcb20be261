package harness

import (
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultSendDelayBound is the p99 of due -> written above which a run's
// timing is refused: beyond it the generator, not the server, decides the
// latency a request sees.
const DefaultSendDelayBound = time.Millisecond

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

// Validity judges the instrument itself and says why a run's timing must
// not be trusted ("" when it may): the generator fired requests it has no
// outcome for, or its p99 send delay (due -> written) exceeded bound.
// Counts (loss, duplicates) stay exact either way; only timing is refused.
func Validity(fired, recorded int, sendDelay *hdrhistogram.Histogram, bound time.Duration) string {
	if fired != recorded {
		return fmt.Sprintf("the generator fired %d requests but recorded %d outcomes", fired, recorded)
	}
	if bound <= 0 {
		bound = DefaultSendDelayBound
	}
	if sendDelay == nil || sendDelay.TotalCount() == 0 {
		return ""
	}
	p99 := time.Duration(sendDelay.ValueAtQuantile(99)) * time.Microsecond
	if p99 <= bound {
		return ""
	}
	return fmt.Sprintf("generator fell behind its schedule: p99 send delay (due -> written) %.2fms (max %.2fms) exceeds %.2fms; the machine could not keep the offered rate (lower --rate, or raise --max-send-delay)",
		ms(p99), ms(time.Duration(sendDelay.Max())*time.Microsecond), ms(bound))
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
