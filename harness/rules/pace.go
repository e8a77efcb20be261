// Package rules is where offload decides what a measurement means: whether
// the instrument kept up (Pace, the one validity rule for every run and
// capacity step), whether a capacity step passed (StepRule.Judge), which
// rate to offer next (Climb), what broke (Blame, Cause) and what a ladder
// amounts to (Summarize). It is arithmetic on recorded values only, no
// clock and no processes, so every rule is tested on made-up steps and a
// reader finds each in one place.
package rules

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/internal/latency"
)

// Floor is the validity rule's floor: below a millisecond of lateness no
// run is refused, however fast its answers, since the scheduler of a
// shared machine delays a goroutine by that much without any load of ours.
const Floor = time.Millisecond

// Share is the share of a run's own HTTP p99 the generator's lateness may
// reach. A request sent late by d has d added to its latency from due; at
// a tenth of the p99, the worst the generator can have moved the p99 is
// about 10 %.
const Share = 0.1

// Bound is the send-delay p99 above which a run's (or a capacity step's)
// timing is refused: max(floor, Share × its HTTP p99). A slow server's p99
// is not at the mercy of a millisecond of scheduler delay; a fast one's
// is, and is held to the floor. floor ≤ 0 means Floor.
func Bound(httpP99, floor time.Duration) time.Duration {
	if floor <= 0 {
		floor = Floor
	}
	return max(floor, time.Duration(Share*float64(httpP99)))
}

// Pace is the validity rule: why a run's timing must not be trusted, or ""
// when it may. ownDelay is each request's due -> written delay without the
// requests that waited for a connection (every connection busy with a
// request the server had not answered: that wait is the server's, and it
// is in their latency from due already).
func Pace(ownDelay *hdrhistogram.Histogram, httpP99, floor time.Duration) string {
	if ownDelay == nil || ownDelay.TotalCount() == 0 {
		return ""
	}
	if floor <= 0 {
		floor = Floor
	}
	bound := Bound(httpP99, floor)
	p99 := latency.P99(ownDelay)
	if p99 <= bound {
		return ""
	}
	return fmt.Sprintf("generator fell behind its schedule: p99 send delay (due -> written) %.2fms (max %.2fms) exceeds %.2fms, the larger of %.2fms and a tenth of the HTTP p99 (%.2fms), so it could have moved that p99 by more than 10%%; the machine could not keep the offered rate (lower --rate, or raise --max-send-delay)",
		ms(p99), ms(time.Duration(ownDelay.Max())*time.Microsecond), ms(bound), ms(floor), ms(httpP99))
}

// Cause names what most likely made the generator late in a window of
// wall time on cores CPUs whose send-delay p99 was delay: steal when the
// hypervisor took more than 1 % of the CPU time, GC when one of the bench's
// own pauses reached half the delay, else the generator itself (the
// machine's other work, or the offered rate).
func Cause(stealMS, gcPauseMaxMS float64, gcPauses int, wall time.Duration, cores int, delay time.Duration) string {
	avail := wall.Seconds() * 1000 * float64(max(1, cores))
	switch {
	case avail > 0 && stealMS > 0.01*avail:
		return fmt.Sprintf("steal: the hypervisor took %s ms of CPU (%.1f %% of the machine)", fmtMS(stealMS), 100*stealMS/avail)
	case delay > 0 && gcPauseMaxMS >= ms(delay)/2:
		return fmt.Sprintf("GC: the bench's own pause of %s ms (%d pauses)", fmtMS(gcPauseMaxMS), gcPauses)
	}
	return "the generator behind: no steal or GC pause explains it, the machine's other work or the offered rate does"
}

func ms(d time.Duration) float64 { return latency.Round3(float64(d) / float64(time.Millisecond)) }
