package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/offload/offload/internal/backoff"
)

// lowest and highest stand for the two ends of the random half.
func lowest(int64) int64    { return 0 }
func highest(n int64) int64 { return n - 1 }

func TestDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		p    backoff.Policy
		n    int
		want time.Duration
	}{
		{"first retry, low jitter", backoff.Policy{Base: 100 * ms, Max: time.Second, Rand: lowest}, 1, 50 * ms},
		{"first retry, high jitter", backoff.Policy{Base: 100 * ms, Max: time.Second, Rand: highest}, 1, 100*ms - 1},
		{"doubles", backoff.Policy{Base: 100 * ms, Max: time.Second, Rand: lowest}, 3, 200 * ms},
		{"capped", backoff.Policy{Base: 100 * ms, Max: time.Second, Rand: lowest}, 10, 500 * ms},
		{"cap holds for huge n", backoff.Policy{Base: 100 * ms, Max: time.Second, Rand: highest}, 1 << 20, time.Second - 1},
		{"n below 1 is the first", backoff.Policy{Base: 100 * ms, Max: time.Second, Rand: lowest}, 0, 50 * ms},
		{"zero max means base", backoff.Policy{Base: 100 * ms, Rand: lowest}, 5, 50 * ms},
		{"zero base is no wait", backoff.Policy{Rand: highest}, 3, 0},
		{"one nanosecond has no room for jitter", backoff.Policy{Base: 1, Max: 1, Rand: highest}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Delay(tc.n); got != tc.want {
				t.Fatalf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

// Without a fixed Rand every wait still lies in [d/2, d).
func TestDelayJitterRange(t *testing.T) {
	p := backoff.Policy{Base: 80 * time.Millisecond, Max: time.Second}
	for n := 1; n <= 6; n++ {
		full := min(80*time.Millisecond<<(n-1), time.Second)
		for range 200 {
			if d := p.Delay(n); d < full/2 || d >= full {
				t.Fatalf("Delay(%d) = %v, outside [%v, %v)", n, d, full/2, full)
			}
		}
	}
}

func TestRetryGrowsAndResets(t *testing.T) {
	r := backoff.NewRetry(backoff.Policy{Base: 10 * time.Millisecond, Max: 40 * time.Millisecond, Rand: lowest})
	var got []time.Duration
	for range 4 {
		got = append(got, r.Next())
	}
	want := []time.Duration{5, 10, 20, 20}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	if r.Failures() != 4 {
		t.Fatalf("failures = %d", r.Failures())
	}
	r.Reset()
	if d := r.Next(); d != 5*time.Millisecond {
		t.Fatalf("after Reset the wait is %v, want the first again", d)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := backoff.NewRetry(backoff.Policy{Base: time.Hour})
	if r.Wait(ctx) {
		t.Fatal("Wait on an ended context said to try again")
	}
	if !backoff.Sleep(context.Background(), 0) {
		t.Fatal("a zero sleep did not elapse")
	}
}
