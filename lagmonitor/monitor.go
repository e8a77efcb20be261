// Package lagmonitor measures how late a loop runs the timers it scheduled,
// which is how long any client waits behind whatever is blocking it (Node's
// monitorEventLoopDelay, the talk's node-blocked). It also reads the Go
// runtime's own scheduler latency, because under the go model a ticker probe
// alone underestimates how long runnable goroutines wait for a CPU.
package lagmonitor

import (
	"context"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Config configures a Monitor. Zero values take the documented defaults.
type Config struct {
	// Every, when set, arms a timer on the monitored loop itself (the node
	// loop's timers phase): one wake-up per probe, so probing stays cheap.
	Every func(d, res time.Duration, fn func(due, now time.Time)) (stop func())
	// Post runs fn where the monitored code runs; used when Every is nil:
	// a prober goroutine's timer fires and posts the probe.
	Post func(fn func())
	// Interval between probes; default 20ms. With a Post-only prober a block
	// is caught to within one interval; Every refines it to Resolution.
	Interval time.Duration
	// Resolution of a loop timer (see eventloop.Loop.Every); default 1ms.
	Resolution time.Duration
	// BlockThreshold counts a probe at least this late as a block; default 10ms
	// (node-resque's maxEventLoopDelay).
	BlockThreshold time.Duration
	// Bucket is the width of one point of the time series; default 100ms.
	Bucket time.Duration
	// Keep is how many buckets of history to keep; default 6000 (10 min at 100ms).
	Keep int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 20 * time.Millisecond
	}
	if c.Resolution <= 0 {
		c.Resolution = time.Millisecond
	}
	if c.BlockThreshold <= 0 {
		c.BlockThreshold = 10 * time.Millisecond
	}
	if c.Bucket <= 0 {
		c.Bucket = 100 * time.Millisecond
	}
	if c.Keep <= 0 {
		c.Keep = 6000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Highest recordable lag; anything above is clamped. An hour of blocking is
// not a measurement problem any more.
const maxLag = time.Hour

// Monitor records probe lateness. Safe for concurrent use.
type Monitor struct {
	cfg Config

	mu     sync.Mutex
	hist   *hdrhistogram.Histogram // microseconds
	since  time.Time
	blocks int64
	max    time.Duration // exact; the histogram rounds to 3 significant digits
	series []Sample      // ring of per-bucket maxima, oldest first once full
	cur    Sample
	sched  schedBaseline

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// Sample is the worst lag seen in one bucket of the time series.
type Sample struct {
	At    time.Time `json:"t"`
	MaxMS float64   `json:"max_ms"`
	Count int       `json:"n"`
}

// New returns a stopped monitor; call Start.
func New(cfg Config) *Monitor {
	cfg = cfg.withDefaults()
	m := &Monitor{cfg: cfg, done: make(chan struct{})}
	m.resetLocked()
	return m
}

// Record adds one lateness observation. The probe calls it; tests and
// callers that measure lag their own way may too.
func (m *Monitor) Record(at time.Time, lag time.Duration) {
	if lag < 0 {
		lag = 0
	}
	if lag > maxLag {
		lag = maxLag
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.hist.RecordValue(lag.Microseconds())
	m.max = max(m.max, lag)
	if lag >= m.cfg.BlockThreshold {
		m.blocks++
	}
	bucket := at.Truncate(m.cfg.Bucket)
	if !bucket.Equal(m.cur.At) {
		if m.cur.Count > 0 {
			m.pushLocked(m.cur)
		}
		m.cur = Sample{At: bucket}
	}
	ms := float64(lag.Microseconds()) / 1000
	if ms > m.cur.MaxMS {
		m.cur.MaxMS = ms
	}
	m.cur.Count++
}

func (m *Monitor) pushLocked(s Sample) {
	if len(m.series) >= m.cfg.Keep {
		copy(m.series, m.series[1:])
		m.series = m.series[:len(m.series)-1]
	}
	m.series = append(m.series, s)
}

// Reset forgets every observation: a harness calls it after warm-up.
func (m *Monitor) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resetLocked()
}

func (m *Monitor) resetLocked() {
	m.hist = hdrhistogram.New(1, maxLag.Microseconds(), 3)
	m.since = m.cfg.Now()
	m.blocks = 0
	m.max = 0
	m.series = m.series[:0]
	m.cur = Sample{}
	m.sched = readSchedBaseline()
}

// Start probes until ctx ends or Stop is called. A probe arms a timer for
// Interval, then posts itself to the loop when it fires; how late it runs
// after the time it was due is the lag. The next probe is armed only after
// this one ran, as a chain of setTimeout calls would be, so a blocked loop
// yields one long sample rather than a queue of them.
func (m *Monitor) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	if m.cfg.Every != nil {
		stop := m.cfg.Every(m.cfg.Interval, m.cfg.Resolution, func(due, now time.Time) { m.Record(now, now.Sub(due)) })
		go func() {
			defer close(m.done)
			<-ctx.Done()
			stop()
		}()
		return
	}
	go func() {
		defer close(m.done)
		ran := make(chan struct{}, 1)
		timer := time.NewTimer(m.cfg.Interval)
		defer timer.Stop()
		due := m.cfg.Now().Add(m.cfg.Interval)
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			m.cfg.Post(func() {
				now := m.cfg.Now()
				m.Record(now, now.Sub(due))
				ran <- struct{}{}
			})
			select {
			case <-ctx.Done():
				return
			case <-ran:
			}
			due = m.cfg.Now().Add(m.cfg.Interval)
			timer.Reset(m.cfg.Interval)
		}
	}()
}

// Stop ends probing and waits for the prober to exit. Safe to call twice,
// and before Start.
func (m *Monitor) Stop() {
	m.stopOnce.Do(func() {
		if m.cancel == nil {
			return
		}
		m.cancel()
		<-m.done
	})
}
