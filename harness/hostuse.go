package harness

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/harness/rules"
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
		u.GCPauseMaxMS = max(u.GCPauseMaxMS, ms(gc.Pause[i]))
	}
	return u
}

// Cause names what most likely made the generator late (rules.Cause).
func (u HostUse) Cause(wall time.Duration, cores int, delay time.Duration) string {
	return rules.Cause(u.StealMS, u.GCPauseMaxMS, u.GCPauses, wall, cores, delay)
}
