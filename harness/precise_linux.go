package harness

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// preciseWait blocks this goroutine's thread for d in nanosleep: the
// kernel's timer, not the poller's millisecond. A signal wakes it early;
// the caller keeps the due time all the same.
func preciseWait(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}

var fireThreadOnce sync.Once

// fireThread locks the calling goroutine to its thread and gives the
// thread realtime priority (SCHED_FIFO 1), so that a due time wakes it
// ahead of whatever else the machine runs, server included. The thread
// only sleeps and writes, never spins. Where that is not permitted it
// runs at normal priority, with no timer slack, and says so: "" when
// realtime.
func fireThread() string {
	runtime.LockOSThread()
	err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}, 0)
	if err == nil {
		return ""
	}
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	note := fmt.Sprintf("generator's firing thread at normal priority: realtime (SCHED_FIFO) not permitted: %v", err)
	fireThreadOnce.Do(func() { slog.Warn(note) })
	return note
}
