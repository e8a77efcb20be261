package harness

import (
	"math"
	"testing"
	"time"
)

func TestLadderStepLength(t *testing.T) {
	l := Ladder{Start: 50, Factor: math.Sqrt2, Max: 4000, MinRequests: 2000, MinStep: time.Second, MaxStep: 1500 * time.Millisecond}
	for _, tc := range []struct {
		rate float64
		want time.Duration
	}{{50, 1500 * time.Millisecond}, {1414, 1414 * time.Millisecond}, {4000, time.Second}} {
		if d := l.StepLength(tc.rate); d != tc.want {
			t.Errorf("step at %v req/s lasts %v, want %v (2,000 requests, within 1s and 1.5s)", tc.rate, d, tc.want)
		}
	}
	c := l.Climb()
	if r, ok := c.Next(); !ok || r != 50 || c.Failures != 1 {
		t.Errorf("a ladder without Failures climbs from %v (%v) ending after %d failures, want 50 and 1", r, ok, c.Failures)
	}
}
