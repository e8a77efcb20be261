package harness

import (
	"context"
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

// The loop stays open: every send below blocks until all 100 due times
// have been sent, which only a generator that never waits for an answer
// before the next due time can do. Each due time is sent once, on time.
func TestFireKeepsTheLoopOpen(t *testing.T) {
	start := time.Unix(5000, 0)
	clk := &lockedClock{now: start}
	const n = 100
	var mu sync.Mutex
	seen := map[int]time.Time{}
	all := make(chan struct{})
	pace := Fire(context.Background(), clk, start, &Paced{Rate: Constant(1000), Duration: n * time.Millisecond}, func(seq int, due time.Time) {
		mu.Lock()
		if _, dup := seen[seq]; dup {
			t.Errorf("due time %d sent twice", seq)
		}
		seen[seq] = due
		if len(seen) == n {
			close(all)
		}
		mu.Unlock()
		<-all
	})
	if pace.Fired != n || len(seen) != n {
		t.Fatalf("fired %d, sent %d distinct; want %d", pace.Fired, len(seen), n)
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
