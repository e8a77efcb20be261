//go:build !linux

package harness

import "time"

// preciseWait falls back to Go's own sleep where nanosleep is not in the
// syscall package (macOS): coarser, and the send delay shows it.
func preciseWait(d time.Duration) { time.Sleep(d) }
