package harness

import (
	"context"
	"sync"
	"time"
)

// Fire keeps an open-loop schedule the way the bench's job generator
// needs at high rates: sending goroutines claim due times in order, each
// sleeps until its own, sends (send blocks for the answer) and claims the
// next. Whenever the last idle one goes to send, another starts, so a due
// time never waits for an answer: the loop stays open. Unlike Generate
// (one pacer handing every request to another goroutine), a request here
// is sent by the goroutine its timer woke, which halves the scheduler
// work per request. It returns once every due time was sent (answers may
// still be owed: the caller's Collector waits for them) or ctx ended,
// with the pacer's lateness (due -> woken).
func Fire(ctx context.Context, clk Clock, start time.Time, s Schedule, send func(seq int, due time.Time)) Pace {
	f := &firing{clk: clk, start: start, s: s, pace: Pace{SendDelay: newLatencyHist()}, idle: 1, ended: make(chan struct{})}
	go f.worker(ctx, send)
	<-f.ended
	f.pending.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pace
}

type firing struct {
	clk   Clock
	start time.Time
	s     Schedule
	// pending counts due times claimed and not yet sent (or given up);
	// ended closes when the schedule is over: no claim is made after it.
	pending sync.WaitGroup
	ended   chan struct{}

	mu   sync.Mutex
	last time.Duration // the last due time claimed
	next int
	over bool
	idle int // goroutines not sending: claiming or sleeping until their due time
	pace Pace
}

// claim takes the next due time off the schedule, with its gap to the one
// before.
func (f *firing) claim() (int, time.Time, time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.over {
		return 0, time.Time{}, 0, false
	}
	off, ok := f.s.Next()
	if !ok {
		f.end()
		return 0, time.Time{}, 0, false
	}
	f.pending.Add(1)
	f.next++
	gap := off - f.last
	f.last = off
	return f.next - 1, f.start.Add(off), gap, true
}

// end marks the schedule over (f.mu held).
func (f *firing) end() {
	if !f.over {
		f.over = true
		close(f.ended)
	}
}

func (f *firing) worker(ctx context.Context, send func(int, time.Time)) {
	sleep := func(ctx context.Context, at time.Time, _ time.Duration) error { return f.clk.SleepUntil(ctx, at) }
	if _, real := f.clk.(RealClock); real {
		// One timer per sending goroutine, reset for every due time, not one
		// allocated per request.
		t := time.NewTimer(time.Hour)
		defer t.Stop()
		sleep = func(ctx context.Context, at time.Time, gap time.Duration) error {
			// Go's timers wake through the network poller, whose wait has
			// millisecond resolution: a sleep under 1ms comes back up to
			// 1ms late, the whole send delay budget. The last stretch is
			// slept in nanosleep on this goroutine's thread instead.
			// Only at low rates: there a blocked thread per wait is cheap,
			// while at high rates the process is busy and the scheduler runs
			// its timers on time, not the poller.
			precise := gap >= preciseGap
			d := time.Until(at)
			if precise {
				d -= preciseSleep
			}
			if d > 0 {
				t.Reset(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if d := time.Until(at); precise && d > 0 {
				preciseWait(d)
			}
			return ctx.Err()
		}
	}
	for {
		seq, due, gap, ok := f.claim()
		if !ok {
			return
		}
		if err := sleep(ctx, wakeAt(f.start, due), gap); err != nil {
			f.mu.Lock()
			f.end()
			f.mu.Unlock()
			f.pending.Done()
			return
		}
		late := max(0, f.clk.Now().Sub(due))
		f.mu.Lock()
		_ = f.pace.SendDelay.RecordValue(max(1, late.Microseconds()))
		f.pace.MaxDelay = max(f.pace.MaxDelay, late)
		f.pace.Fired++
		f.idle--
		spawn := f.idle == 0 && !f.over
		if spawn {
			f.idle++
		}
		f.mu.Unlock()
		f.pending.Done()
		if spawn {
			go f.worker(ctx, send)
		}
		send(seq, due)
		f.mu.Lock()
		f.idle++
		f.mu.Unlock()
	}
}

// preciseSleep is how much of each wait is slept in nanosleep rather than
// on a Go timer, when due times are at least preciseGap apart.
const (
	preciseSleep = 2 * time.Millisecond
	preciseGap   = 500 * time.Microsecond
)

// fireQuantum is the grid the generator wakes on: the due times inside one
// quantum share a wake-up instead of paying one each, at a cost of at most
// this much lateness, which the send delay shows.
const fireQuantum = 200 * time.Microsecond

func wakeAt(start, due time.Time) time.Time {
	off := due.Sub(start)
	return start.Add((off + fireQuantum - 1) / fireQuantum * fireQuantum)
}
