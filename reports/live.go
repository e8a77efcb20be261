package reports

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/offload/offload/results"
)

// Live shows a bench while it runs: on a terminal, one line per run with a
// progress bar over its current phase (mpb); elsewhere (CI, a pipe), plain
// log lines, one every PlainEvery while a run measures and one when it ends.
// Update is safe from several goroutines.
type Live struct {
	mu    sync.Mutex
	out   io.Writer
	now   func() time.Time
	every time.Duration

	progress *mpb.Progress
	bars     map[int]*liveBar
	lastLog  map[int]time.Time
	closed   bool
}

// PlainEvery is how often plain mode prints a run's progress.
const PlainEvery = 10 * time.Second

type liveBar struct {
	bar   *mpb.Bar
	mu    sync.Mutex
	state results.Progress
}

// IsTerminal reports whether w is a terminal (then the live view draws bars).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewLive returns a live view writing to w; bars when tty is true.
// now is the clock for plain mode's pacing (nil: time.Now).
func NewLive(w io.Writer, tty bool, now func() time.Time) *Live {
	if now == nil {
		now = time.Now
	}
	l := &Live{out: w, now: now, every: PlainEvery, bars: map[int]*liveBar{}, lastLog: map[int]time.Time{}}
	if tty {
		l.progress = mpb.New(mpb.WithOutput(w), mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(100), mpb.WithRefreshRate(200*time.Millisecond))
	}
	return l
}

// Drawing reports whether the view draws bars (a terminal).
func (l *Live) Drawing() bool { return l.progress != nil }

// Log is where other output should go while the view is drawn: above the
// bars on a terminal, straight to the output otherwise.
func (l *Live) Log() io.Writer {
	if l.progress != nil {
		return l.progress
	}
	return l.out
}

// Update draws one progress report.
func (l *Live) Update(p results.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if l.progress == nil {
		l.plain(p)
		return
	}
	b, ok := l.bars[p.Index]
	if !ok {
		b = &liveBar{}
		b.bar = l.progress.New(1000, mpb.BarStyle().Lbound("[").Rbound("]"),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return b.label() })),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return b.counts() })),
			mpb.BarWidth(24))
		l.bars[p.Index] = b
	}
	b.mu.Lock()
	b.state = p
	b.mu.Unlock()
	switch {
	case p.Phase == "done" || p.Phase == "n/a":
		b.bar.SetTotal(-1, true)
	case p.PhaseLen > 0:
		b.bar.SetCurrent(min(1000, int64(1000*p.Elapsed/p.PhaseLen)))
	}
}

// Close finishes drawing; the view ignores updates afterwards. Safe twice.
func (l *Live) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	for _, b := range l.bars {
		if !b.bar.Completed() {
			b.bar.Abort(false)
		}
	}
	l.mu.Unlock()
	if l.progress != nil {
		l.progress.Wait()
	}
}

func (b *liveBar) label() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state.Done != nil {
		return fmt.Sprintf("%-44s %-10s", runLabel(b.state), b.state.Phase)
	}
	return fmt.Sprintf("%-44s %-10s %s", runLabel(b.state), b.state.Phase, phaseClock(b.state))
}

func (b *liveBar) counts() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return progressCounts(b.state)
}

// runLabel is "[ 3/66] queue worker-crash (zmq)".
func runLabel(p results.Progress) string {
	s := fmt.Sprintf("[%*d/%d] %s %s", len(fmt.Sprint(p.Total)), p.Index, p.Total, p.Strategy, p.Scenario)
	if p.Variant != "" {
		s += " (" + p.Variant + ")"
	}
	return s
}

func phaseClock(p results.Progress) string {
	if p.PhaseLen <= 0 {
		return fmt.Sprintf("%5.1fs", p.Elapsed.Seconds())
	}
	return fmt.Sprintf("%5.1f/%.0fs", p.Elapsed.Seconds(), p.PhaseLen.Seconds())
}

func progressCounts(p results.Progress) string {
	if p.Done != nil {
		r := p.Done
		if r.NAReason != "" {
			return r.NAReason
		}
		if r.Invalid != "" {
			return "invalid: " + r.Invalid
		}
		return fmt.Sprintf("accepted %s  delivered %s  lost %s  dup %s", count(r.Accepted), count(r.Delivered),
			count(r.Lost), count(r.Duplicates))
	}
	return fmt.Sprintf("%6.0f req/s  accepted %s  delivered %s  backlog %s", p.RateRPS, count(p.Accepted),
		count(p.Delivered), count(p.Backlog))
}

// plain prints a line when a run ends and at most every l.every while it runs.
func (l *Live) plain(p results.Progress) {
	done := p.Phase == "done" || p.Phase == "n/a"
	now := l.now()
	last, seen := l.lastLog[p.Index]
	if !done && seen && now.Sub(last) < l.every {
		return
	}
	if !seen && !done {
		l.lastLog[p.Index] = now // the harness logs the phase change itself
		return
	}
	l.lastLog[p.Index] = now
	if done {
		fmt.Fprintf(l.out, "%s %s: %s\n", runLabel(p), p.Phase, progressCounts(p))
		return
	}
	fmt.Fprintf(l.out, "%s %s %s: %s\n", runLabel(p), p.Phase, phaseClock(p), progressCounts(p))
}
