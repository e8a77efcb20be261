package harness

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Fire keeps an open-loop schedule the way the bench's job generator
// needs at high rates: it sleeps until each due time and calls send with
// it, on the goroutine that woke, and send must write the request and
// return without waiting for its answer (Sender.Post): the loop stays open
// because no send waits for an earlier one's answer. It returns once every
// due time was sent (answers may still be owed: the caller's Collector
// waits for them) or ctx ended, with the pacer's lateness (due -> woken).
//
// With the real clock, due times are kept by firingThreads goroutines,
// each on a thread of its own (realtime priority where the system allows
// it: fireThread), which sleep their last stretch in nanosleep: Go's
// timers wake through the poller, whose wait has millisecond resolution,
// the whole send-delay budget. A goroutine locked to its thread that
// yields (or is preempted, which the runtime does to one that runs 10ms
// without blocking) waits for another thread to hand it back a processor,
// and on a busy machine that thread may wait its turn for milliseconds. So
// every due time is slept on by all the firing goroutines: the first awake
// sends it, and they yield in turn, never together, so one is always
// running on its own thread when a due time comes.
func Fire(ctx context.Context, clk Clock, start time.Time, s Schedule, send func(seq int, due time.Time)) Pace {
	f := &firing{clk: clk, start: start, s: s, pace: Pace{SendDelay: newLatencyHist()}}
	if _, real := clk.(RealClock); !real {
		f.run(ctx, send, func(ctx context.Context, at time.Time) error { return clk.SleepUntil(ctx, at) }, false)
		return f.pace
	}
	// A processor for each firing goroutine, so that one waking from
	// nanosleep finds one idle rather than wait for another to be handed
	// over.
	defer addProcs(firingThreads)()
	var wg sync.WaitGroup
	notes := make([]string, firingThreads)
	for i := range firingThreads {
		wg.Go(func() {
			var done func()
			notes[i], done = fireThread()
			defer done()
			t := time.NewTimer(time.Hour)
			defer t.Stop()
			f.run(ctx, send, func(ctx context.Context, at time.Time) error { return sleepPrecise(ctx, t, at) }, true)
		})
	}
	wg.Wait()
	f.pace.Note = notes[0]
	return f.pace
}

// firingThreads is how many goroutines keep the schedule: two, so that one
// can yield while the other holds its processor.
const firingThreads = 2

// yieldEvery is how long a firing goroutine runs before it yields, well
// inside the 10ms after which the runtime would preempt it at a moment
// not of its choosing.
const yieldEvery = 4 * time.Millisecond

type firing struct {
	clk   Clock
	start time.Time
	s     Schedule

	mu       sync.Mutex
	due      time.Time // the next due time, taken off the schedule
	have     bool      // due is set and not yet sent
	seq      int       // due's sequence number
	over     bool
	yielding bool // one firing goroutine is yielding: the other must not
	pace     Pace
}

func (f *firing) run(ctx context.Context, send func(int, time.Time), sleep func(context.Context, time.Time) error, yield bool) {
	ran := time.Now() // since this goroutine last gave up its processor
	for {
		f.mu.Lock()
		if f.over {
			f.mu.Unlock()
			return
		}
		if yield && !f.yielding && time.Since(ran) > yieldEvery {
			f.yielding = true
			f.mu.Unlock()
			runtime.Gosched()
			ran = time.Now()
			f.mu.Lock()
			f.yielding = false
			f.mu.Unlock()
			continue
		}
		if !f.have {
			off, ok := f.s.Next()
			if !ok {
				f.over = true
				f.mu.Unlock()
				return
			}
			f.due, f.have = f.start.Add(off), true
		}
		seq, due := f.seq, f.due
		f.mu.Unlock()
		wake := wakeAt(f.start, due)
		if time.Until(wake) > preciseSleep {
			ran = time.Time{} // it parks on a timer: its run starts afresh
		}
		err := sleep(ctx, wake)
		if ran.IsZero() {
			ran = time.Now()
		}
		f.mu.Lock()
		if err != nil {
			f.over = true
			f.mu.Unlock()
			return
		}
		if !f.have || f.seq != seq {
			f.mu.Unlock()
			continue // the other firing goroutine sent it
		}
		f.have = false
		f.seq++
		late := max(0, f.clk.Now().Sub(due))
		_ = f.pace.SendDelay.RecordValue(max(1, late.Microseconds()))
		f.pace.MaxDelay = max(f.pace.MaxDelay, late)
		f.pace.Fired++
		f.mu.Unlock()
		send(seq, due)
	}
}

// sleepPrecise sleeps until at: on the Go timer t while at is far off
// (the thread gives up its processor), the last preciseSleep in
// nanosleep.
func sleepPrecise(ctx context.Context, t *time.Timer, at time.Time) error {
	if d := time.Until(at) - preciseSleep; d > 0 {
		t.Reset(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A signal (the runtime's preemption, a profiler) cuts nanosleep
	// short; the due time is kept all the same.
	for d := time.Until(at); d > 0; d = time.Until(at) {
		preciseWait(d)
	}
	return nil
}

// preciseSleep is how much of each wait is slept in nanosleep rather than
// on a Go timer: more than the poller's millisecond of lateness.
const preciseSleep = 2 * time.Millisecond

// fireQuantum is the grid the generator wakes on: the due times inside one
// quantum share a wake-up instead of paying one each, at a cost of at most
// this much lateness, which the send delay shows.
const fireQuantum = 200 * time.Microsecond

func wakeAt(start, due time.Time) time.Time {
	off := due.Sub(start)
	return start.Add((off + fireQuantum - 1) / fireQuantum * fireQuantum)
}

// procsMu orders the changes of GOMAXPROCS by Fires running at once: each
// adds its own and takes them back.
var procsMu sync.Mutex

func addProcs(n int) (restore func()) {
	procsMu.Lock()
	defer procsMu.Unlock()
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + n)
	return func() {
		procsMu.Lock()
		defer procsMu.Unlock()
		runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)-n))
	}
}
