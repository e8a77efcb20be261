package harness

import (
	"context"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// lockedClock is a fake clock safe for Fire's goroutines: every sleep
// returns at once, the clock jumping to the time slept until.
type lockedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *lockedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *lockedClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
	return ctx.Err()
}

// Each due time is sent once, in order, on time, by the goroutine that
// woke for it.
func TestFireSendsEachDueTimeOnce(t *testing.T) {
	start := time.Unix(5000, 0)
	clk := &lockedClock{now: start}
	const n = 100
	var seen []time.Time
	pace := Fire(context.Background(), clk, start, &Paced{Rate: Constant(1000), Duration: n * time.Millisecond}, func(seq int, due time.Time) {
		if seq != len(seen) {
			t.Errorf("due time %d sent after %d others", seq, len(seen))
		}
		if now := clk.Now(); now.Before(due) {
			t.Errorf("due time %d sent %v early", seq, due.Sub(now))
		}
		seen = append(seen, due)
	})
	if pace.Fired != n || len(seen) != n {
		t.Fatalf("fired %d, sent %d; want %d", pace.Fired, len(seen), n)
	}
	for seq, due := range seen {
		if want := start.Add(time.Duration(seq) * time.Millisecond); !due.Equal(want) {
			t.Errorf("seq %d due %v, want %v", seq, due.Sub(start), want.Sub(start))
		}
	}
	if pace.SendDelay.TotalCount() != n {
		t.Errorf("lateness recorded for %d", pace.SendDelay.TotalCount())
	}
}

// On the real clock several firing goroutines share the schedule: still
// every due time is sent exactly once, never before it is due, and the
// pace says whether the threads got realtime priority (they do as root).
func TestFireRealClockSendsEachDueTimeOnce(t *testing.T) {
	const n = 300
	var mu sync.Mutex
	seen := map[int]int{}
	early := 0
	start := time.Now().Add(5 * time.Millisecond)
	procs := runtime.GOMAXPROCS(0)
	pace := Fire(context.Background(), RealClock{}, start, &Paced{Rate: Constant(3000), Duration: n * time.Second / 3000}, func(seq int, due time.Time) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		seen[seq]++
		if now.Before(due) {
			early++
		}
	})
	if pace.Fired != n || len(seen) != n {
		t.Fatalf("fired %d, sent %d distinct; want %d", pace.Fired, len(seen), n)
	}
	for seq, k := range seen {
		if k != 1 || seq < 0 || seq >= n {
			t.Errorf("seq %d sent %d times", seq, k)
		}
	}
	if early > 0 {
		t.Errorf("%d due times sent before they were due", early)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after Fire, %d before", got, procs)
	}
	if realtime := os.Geteuid() == 0 && runtime.GOOS == "linux"; realtime != (pace.Note == "") {
		t.Errorf("realtime expected %v, pace note %q", realtime, pace.Note)
	}
}

func TestFireStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pace := Fire(ctx, &lockedClock{now: time.Unix(0, 0)}, time.Unix(0, 0), &Paced{Rate: Constant(1000), Duration: time.Second}, func(int, time.Time) {
		t.Error("nothing may be sent once ctx ended")
	})
	if pace.Fired != 0 {
		t.Errorf("fired %d", pace.Fired)
	}
}
