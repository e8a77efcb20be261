package harness

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/internal/latency"
)

// Schedule yields the due times of an open-loop run as offsets from its
// start. It is a pure sequence: it never looks at the clock or the server.
type Schedule interface {
	// Next returns when the next request is due, or false when the
	// schedule is over.
	Next() (time.Duration, bool)
}

// RateFunc is the offered rate (requests per second) at offset t.
type RateFunc func(t time.Duration) float64

// Constant offers rate requests per second for d.
func Constant(rate float64) RateFunc { return func(time.Duration) float64 { return rate } }

// Step offers base, then base*factor during [from, from+length), then base
// again: a burst.
func Step(base, factor float64, from, length time.Duration) RateFunc {
	return func(t time.Duration) float64 {
		if t >= from && t < from+length {
			return base * factor
		}
		return base
	}
}

// Paced is the deterministic schedule for a rate: each request is due one
// interval (1/rate at that moment) after the previous one.
type Paced struct {
	Rate     RateFunc
	Duration time.Duration
	next     float64 // seconds; a float so 1/3s steps add up to 1s
	started  bool
}

// Next implements Schedule.
func (p *Paced) Next() (time.Duration, bool) {
	if p.started {
		r := p.Rate(p.at())
		if r <= 0 {
			return 0, false
		}
		p.next += 1 / r
	}
	p.started = true
	if p.at() >= p.Duration {
		return 0, false
	}
	return p.at(), true
}

func (p *Paced) at() time.Duration { return time.Duration(math.Round(p.next * 1e9)) }

// Poisson is a schedule with exponentially distributed gaps (Poisson
// arrivals) at the given rate, reproducible from its seed.
type Poisson struct {
	Rate     RateFunc
	Duration time.Duration
	Seed     uint64
	rng      *rand.Rand
	next     time.Duration
}

// Next implements Schedule.
func (p *Poisson) Next() (time.Duration, bool) {
	if p.rng == nil {
		p.rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x5deece66d))
	}
	r := p.Rate(p.next)
	if r <= 0 {
		return 0, false
	}
	p.next += time.Duration(p.rng.ExpFloat64() / r * float64(time.Second))
	if p.next >= p.Duration {
		return 0, false
	}
	return p.next, true
}

// Clock is the generator's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at t or when ctx ends (with ctx's error).
	SleepUntil(ctx context.Context, t time.Time) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// SleepUntil implements Clock.
func (RealClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pace is what the pacer says about itself: how many requests it fired
// and how late, relative to their due time, it handed them on. The full
// send delay (due -> written, see sendDelays) is what validity judges.
type Pace struct {
	Fired     int
	SendDelay *hdrhistogram.Histogram // microseconds, due -> fired
	MaxDelay  time.Duration
	Note      string // why the pacer ran with less than it could (Fire's thread priority)
}

// newLatencyHist records 1µs..1h with 3 significant digits.
func newLatencyHist() *hdrhistogram.Histogram { return latency.New() }

// Generate keeps the schedule: it waits for each due time and calls fire
// with it, never waiting for an earlier request to be answered (fire must
// not block). It records its own lateness, the first part of the send delay.
func Generate(ctx context.Context, clk Clock, start time.Time, s Schedule, fire func(seq int, due time.Time)) Pace {
	p := Pace{SendDelay: newLatencyHist()}
	for {
		off, ok := s.Next()
		if !ok {
			return p
		}
		due := start.Add(off)
		if err := clk.SleepUntil(ctx, due); err != nil {
			return p
		}
		late := clk.Now().Sub(due)
		if late < 0 {
			late = 0
		}
		_ = p.SendDelay.RecordValue(max(1, late.Microseconds()))
		p.MaxDelay = max(p.MaxDelay, late)
		fire(p.Fired, due)
		p.Fired++
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*100) / 100 }
