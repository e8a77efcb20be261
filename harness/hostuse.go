package harness

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// What, besides the load, can make the generator late: the hypervisor
// running another guest on our CPUs (steal, in /proc/stat), and this
// process's own garbage collector stopping it. Both are read over each run
// and each capacity step, so that a refused one names its likely cause.

// hostMark is a reading at one instant.
type hostMark struct {
	at         time.Time
	stealTicks uint64 // the machine's, over all CPUs, in clock ticks
	stealOK    bool
}

func markHost() hostMark {
	m := hostMark{at: time.Now()}
	m.stealTicks, m.stealOK = readSteal("/proc/stat")
	return m
}

// readSteal is the steal column of /proc/stat's "cpu" line.
func readSteal(path string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		v, err := strconv.ParseUint(fields[8], 10, 64)
		return v, err == nil
	}
	return 0, false
}

// HostUse is what the host and the bench's runtime took from a window.
type HostUse struct {
	StealMS      float64 // CPU time the hypervisor gave other guests, all CPUs
	GCPauseMaxMS float64 // this process's longest stop-the-world pause
	GCPauses     int
}

// since reads the window from m to now.
func (m hostMark) since() HostUse {
	var u HostUse
	if now, ok := readSteal("/proc/stat"); ok && m.stealOK && now >= m.stealTicks {
		u.StealMS = round3(float64(now-m.stealTicks) / clockTicks * 1000)
	}
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	for i, end := range gc.PauseEnd {
		if end.Before(m.at) || i >= len(gc.Pause) {
			break // newest first
		}
		u.GCPauses++
		u.GCPauseMaxMS = max(u.GCPauseMaxMS, round3(ms(gc.Pause[i])))
	}
	return u
}

// Cause names what most likely made the generator late in a window of
// wall time on cores CPUs whose send-delay p99 was delay: steal when the
// hypervisor took more than 1 % of the CPU time, GC when one of the bench's
// own pauses reached half the delay, else the generator itself (the
// machine's other work, or the offered rate).
func (u HostUse) Cause(wall time.Duration, cores int, delay time.Duration) string {
	avail := wall.Seconds() * 1000 * float64(max(1, cores))
	switch {
	case avail > 0 && u.StealMS > 0.01*avail:
		return fmt.Sprintf("steal: the hypervisor took %s ms of CPU (%.1f %% of the machine)", fmtMS(u.StealMS), 100*u.StealMS/avail)
	case delay > 0 && u.GCPauseMaxMS >= ms(delay)/2:
		return fmt.Sprintf("GC: the bench's own pause of %s ms (%d pauses)", fmtMS(u.GCPauseMaxMS), u.GCPauses)
	}
	return "the generator behind: no steal or GC pause explains it, the machine's other work or the offered rate does"
}
