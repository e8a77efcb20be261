// Package wait polls a condition with a deadline: the one way offload waits
// for something to become true (a server to answer, a process to die)
// instead of sleeping for a guessed time.
package wait

import (
	"context"
	"time"
)

// Until calls cond every few milliseconds until it is true (returns true),
// or d passes or ctx ends (returns false).
func Until(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}
