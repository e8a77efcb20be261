//go:build !linux

package harness

import (
	"runtime"
	"time"
)

// preciseWait falls back to Go's own sleep where nanosleep is not in the
// syscall package (macOS): coarser, and the send delay shows it.
func preciseWait(d time.Duration) { time.Sleep(d) }

func fireThread() (note string, done func()) {
	runtime.LockOSThread()
	return "generator's firing thread at normal priority: realtime is Linux only", runtime.UnlockOSThread
}
