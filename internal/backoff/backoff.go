// Package backoff is the one retry-wait policy offload uses: exponential
// growth from a base to a cap with "equal jitter" (half of each wait fixed,
// half random), so that a burst of failures — jobs that failed together, or
// every worker losing Redis at once — does not come back in lockstep, yet
// no wait is ever shorter than half of what the schedule says. See "Exponential
// Backoff And Jitter" by Marc Brooker (AWS Architecture Blog).
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is a schedule of waits. The zero Rand uses math/rand/v2.
type Policy struct {
	Base time.Duration // wait before the first retry, before jitter
	Max  time.Duration // no wait is longer; 0 means Base
	// Rand returns a number in [0, n); tests fix it.
	Rand func(n int64) int64
}

// Delay is the wait before retry n (1-based): Base·2^(n-1), at most Max,
// of which the upper half is random.
func (p Policy) Delay(n int) time.Duration {
	limit := max(p.Max, p.Base)
	d := p.Base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if d < 2 {
		return d
	}
	half := d / 2
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return half + time.Duration(rnd(int64(d-half)))
}

// Retry is a Policy with a failure count, for a loop that keeps trying a
// resource that is down: Wait after each failure, Reset after a success.
// It is not safe for concurrent use; each loop owns one.
type Retry struct {
	Policy
	n int
}

// NewRetry returns a Retry over p.
func NewRetry(p Policy) *Retry { return &Retry{Policy: p} }

// Failures is the number of failures since the last Reset.
func (r *Retry) Failures() int { return r.n }

// Next counts one more failure and returns the wait it calls for.
func (r *Retry) Next() time.Duration {
	r.n++
	return r.Delay(r.n)
}

// Reset starts the schedule again after a success.
func (r *Retry) Reset() { r.n = 0 }

// Wait counts a failure and sleeps its wait, or until ctx ends; it reports
// whether the caller should try again (false once ctx has ended).
func (r *Retry) Wait(ctx context.Context) bool {
	return Sleep(ctx, r.Next())
}

// Sleep waits d or until ctx ends, and reports whether d elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
