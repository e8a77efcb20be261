package lagmonitor_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/lagmonitor"
)

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !wait.Until(context.Background(), 10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestCatchesABlockedLoop(t *testing.T) {
	loop := eventloop.NewLoop(4)
	defer loop.Close()
	m := lagmonitor.New(lagmonitor.Config{Every: loop.Every})
	m.Start(context.Background())
	defer m.Stop()
	waitFor(t, "first probes", func() bool { return m.Snapshot().Count >= 20 })
	m.Reset()

	const block = 50 * time.Millisecond
	loop.Post(func() { job.Burn(block) })
	waitFor(t, "probes after the block", func() bool {
		s := m.Snapshot()
		return s.Max >= 10 && s.Count >= 20
	})
	s := m.Snapshot()
	// The probe due during the block cannot run before the block ends, so
	// the max is at least the block (less the 1 ms timer resolution); on a
	// shared machine the loop's thread may also be descheduled, so only a
	// lag out of all proportion (a second) means the monitor misread it.
	if got := s.Max; got < 48 || got > 1000 {
		t.Fatalf("max lag = %.2f ms, want at least the 50 ms block (and under 1 s)", got)
	}
	if s.Blocks < 1 {
		t.Fatalf("blocks = %d, want the block counted", s.Blocks)
	}
	if len(s.Samples) == 0 {
		t.Fatal("no time series samples")
	}
}

func TestSeriesKeepsPerBucketMaxima(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := lagmonitor.New(lagmonitor.Config{Post: func(func()) {}, Keep: 2, Now: func() time.Time { return start }})
	for i, lag := range []time.Duration{1, 7, 3, 20, 5, 2, 9} {
		at := start.Add(time.Duration(i/2) * 100 * time.Millisecond) // buckets: {1,7} {3,20} {5,2} {9}
		m.Record(at, lag*time.Millisecond)
	}
	s := m.Snapshot()
	got := []float64{}
	for _, x := range s.Samples {
		got = append(got, x.MaxMS)
	}
	// Keep 2 keeps the two newest closed buckets; the open one is appended.
	want := []float64{20, 5, 9}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("series maxima = %v, want %v", got, want)
	}
	if s.Blocks != 1 || s.Max != 20 || s.Count != 7 {
		t.Fatalf("snapshot = %+v", s)
	}
}

func TestStopTwiceAndBeforeStart(t *testing.T) {
	m := lagmonitor.New(lagmonitor.Config{Post: func(fn func()) { fn() }})
	m.Stop()
	m.Stop()
}

// BenchmarkIdleCost reports the CPU the monitor burns on an idle loop, as a
// percentage of one core. The goal is under 1%.
func BenchmarkIdleCost(b *testing.B) {
	loop := eventloop.NewLoop(4)
	defer loop.Close()
	m := lagmonitor.New(lagmonitor.Config{Every: loop.Every})
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	m.Start(context.Background())
	defer m.Stop()
	c0, t0 := cpu(), time.Now()
	for b.Loop() {
		time.Sleep(100 * time.Millisecond)
	}
	pct := 100 * float64(cpu()-c0) / float64(time.Since(t0))
	b.ReportMetric(pct, "%cpu")
	b.ReportMetric(float64(m.Snapshot().Count)/time.Since(t0).Seconds(), "probes/s")
}
