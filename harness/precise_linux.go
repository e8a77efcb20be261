package harness

import (
	"syscall"
	"time"
)

// preciseWait blocks this goroutine's thread for d in nanosleep: Go's
// timers wake through the poller about a millisecond late here, the whole
// send-delay budget. EINTR wakes it a little early; the caller keeps the
// due time all the same.
func preciseWait(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
