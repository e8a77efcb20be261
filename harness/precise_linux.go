package harness

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/offload/offload/internal/cpuset"
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
// runs at normal priority, with no timer slack, and says so (note is ""
// when realtime). done puts the thread back as it was and unlocks it: the
// thread must not end with the goroutine, as a locked one would, because
// it may be the one that started a child process, which the kernel kills
// when that thread ends (Pdeathsig, internal/proc).
func fireThread() (note string, done func()) {
	runtime.LockOSThread()
	if set, err := cpuset.Allowed(0); err == nil && len(set) < 2 {
		// On one CPU a realtime thread that the runtime sets spinning for
		// work starves every other thread of the process, the garbage
		// collector's too, until the kernel's realtime throttle: a pause
		// of 950 ms was measured so.
		return normalPriority("generator's firing thread at normal priority: the bench has one cpu (--cpus), where realtime would starve its other threads")
	}
	old, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		// Without the old policy it cannot be put back: leave it alone.
		return fmt.Sprintf("generator's firing thread at normal priority: read its policy: %v", err), runtime.UnlockOSThread
	}
	err = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}, 0)
	if err == nil {
		return "", func() {
			if err := unix.SchedSetAttr(0, old, 0); err != nil {
				// Lowering one's own priority is always allowed; if it failed
				// all the same, the thread must not run other goroutines.
				slog.Error("generator: put the firing thread back to normal priority", "err", err)
				return
			}
			runtime.UnlockOSThread()
		}
	}
	note = fmt.Sprintf("generator's firing thread at normal priority: realtime (SCHED_FIFO) not permitted: %v", err)
	fireThreadOnce.Do(func() { slog.Warn(note) })
	return normalPriority(note)
}

// normalPriority leaves the locked thread at its priority with no timer
// slack, so its sleeps end when asked; done puts the slack back and
// unlocks it.
func normalPriority(note string) (string, func()) {
	slack, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	return note, func() {
		if slack > 0 {
			_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0)
		}
		runtime.UnlockOSThread()
	}
}
