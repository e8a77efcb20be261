// Package wait polls a condition with a deadline: the one way offload waits
// for something to become true (a server to answer, a process to die)
// instead of sleeping for a guessed time.
package wait

import (
	"context"
	"io"
	"net/http"
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

// HTTPOK reports whether GET url answers 200 now: the condition most waits
// poll, for a server that is starting.
func HTTPOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
