package harness

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/offload/offload/results"
)

// DefaultRecoveryBound is how long the load goes on after a repair while
// the harness waits for recovery. Past it a run reports "> bound", never a
// number it did not see.
const DefaultRecoveryBound = 10 * time.Second

func (rec Record) recoveryBound() time.Duration {
	if rec.RecoveryBound > 0 {
		return rec.RecoveryBound
	}
	return DefaultRecoveryBound
}

func (t Timing) recoveryBound() time.Duration {
	if t.RecoveryBound > 0 {
		return t.RecoveryBound
	}
	return DefaultRecoveryBound
}

// recovery is the time from the first fault's repair until (a) deliveries
// keep pace with the offered io rate again — within 10% over one recovery
// window that begins within the bound after the repair — and (b) every job
// accepted before the fault that was ever delivered has been. Jobs that
// are never delivered are counted lost, not waited for. Every strategy is
// timed from the same point: its repair.
func recovery(rec Record, expected map[string]bool, pts []results.Point) (*float64, string) {
	if len(rec.Faults) == 0 {
		return nil, ""
	}
	f := rec.Faults[0]
	if f.Start.IsZero() {
		return nil, "fault not injected"
	}
	if f.Repair.IsZero() {
		return nil, "never repaired within the run"
	}
	last := f.Repair
	for _, o := range rec.Requests {
		if d, ok := rec.Deliveries[o.ID]; ok && expected[o.ID] && o.Due.Before(f.Start) && d.First.After(last) {
			last = d.First
		}
	}
	bound := rec.recoveryBound()
	offered := offeredIO(rec, len(pts))
	w := int(rec.RecoveryWindow / rec.Interval)
	end := min(len(pts), rec.bucket(rec.End.Add(-time.Nanosecond))+1) // windows must lie in the measured phase
	for i := max(0, rec.bucket(f.Repair)); i+w <= end; i++ {
		var o, d int64
		for k := i; k < i+w; k++ {
			o += offered[k]
			d += pts[k].Delivered
		}
		if o == 0 || math.Abs(float64(d-o)) > 0.1*float64(o) {
			continue
		}
		at := rec.Start.Add(time.Duration(i) * rec.Interval)
		if at.Before(f.Repair) {
			at = f.Repair
		}
		if last.After(at) {
			at = last
		}
		if at.Sub(f.Repair) > bound {
			break
		}
		v := round3(at.Sub(f.Repair).Seconds())
		return &v, ""
	}
	if rec.End.Sub(f.Repair) < bound+rec.RecoveryWindow {
		return nil, fmt.Sprintf("not recovered when the measured phase ended %.1fs after the repair (interrupted, or the bound is longer than the run)",
			rec.End.Sub(f.Repair).Seconds())
	}
	return nil, fmt.Sprintf("not recovered within %v of the repair: deliveries did not come back within 10%% of the offered rate over a %v window",
		bound, rec.RecoveryWindow)
}

// offeredIO counts io jobs due per bucket: the deliveries the sink should see.
func offeredIO(rec Record, n int) []int64 {
	out := make([]int64, n)
	for _, o := range rec.Requests {
		if o.Kind == "cpu" {
			continue
		}
		if i := rec.bucket(o.Due); i >= 0 && i < n {
			out[i]++
		}
	}
	return out
}

// recovered applies the recovery rule to what has been measured up to now.
func recovered(rec Record) bool {
	if rec.Interval <= 0 {
		rec.Interval = 100 * time.Millisecond
	}
	if rec.RecoveryWindow <= 0 {
		rec.RecoveryWindow = time.Second
	}
	expected := map[string]bool{}
	for _, o := range rec.Requests {
		if o.Accepted() && o.Kind != "cpu" {
			expected[o.ID] = true
		}
	}
	v, _ := recovery(rec, expected, timeseries(rec, expected))
	return v != nil
}

// keepOffering decides whether a fault run's load goes on at now: always
// until the nominal end of the measured phase; after it, until recovery is
// seen or the bound after the repair (plus one window to see it in) has
// passed. snapshot returns what was measured so far, up to now.
func keepOffering(now, nominalEnd time.Time, fault *FaultWindow, bound, window time.Duration, snapshot func() Record) bool {
	if now.Before(nominalEnd) {
		return true
	}
	if fault == nil || fault.Start.IsZero() || fault.Repair.IsZero() {
		return false // nothing to recover from (or the repair failed): the nominal phase is all
	}
	if now.After(fault.Repair.Add(bound + window)) {
		return false
	}
	return !recovered(snapshot())
}

// extendForRecovery runs beside a fault run's generator: once the nominal
// measured phase is over it stops the load (stop) as soon as keepOffering
// says so. fault delivers the fault's window when it is repaired (or given
// up); the window is passed on to the returned channel.
func (r *run) extendForRecovery(ctx context.Context, m *measured, nominalEnd time.Time, fault <-chan FaultWindow, stop func()) <-chan FaultWindow {
	out := make(chan FaultWindow, 1)
	b := r.b
	clk := b.clock()
	bound, window := b.Timing.recoveryBound(), b.Timing.RecoveryWindow
	prefix := fmt.Sprintf("r%03d-", r.plan.Index)
	go func() {
		defer close(out)
		defer stop()
		defer func() {
			if fault != nil { // stopped before the repair was reported: pass it on when it is
				if fw, ok := <-fault; ok {
					out <- fw
				}
			}
		}()
		var w *FaultWindow
		for {
			select {
			case fw, ok := <-fault:
				if ok {
					w = &fw
					out <- fw
				}
				fault = nil
			default:
			}
			now := clk.Now()
			if fault == nil && !keepOffering(now, nominalEnd, w, bound, window, func() Record {
				return r.snapshot(m, prefix, now, w)
			}) {
				return
			}
			if clk.SleepUntil(ctx, now.Add(100*time.Millisecond)) != nil {
				return
			}
		}
	}()
	return out
}

// snapshot is the record of the measured phase so far, for the live
// recovery check. It ends one whole bucket before now, so that every bucket
// it holds is complete (its requests answered, its mail counted) and the
// final account, which sees more of the same run, finds the same window.
func (r *run) snapshot(m *measured, prefix string, now time.Time, w *FaultWindow) Record {
	const interval = 100 * time.Millisecond
	cut := m.start.Add(now.Sub(m.start).Truncate(interval) - interval)
	rec := Record{Start: m.start, End: cut, DrainEnd: cut, Interval: interval, Requests: m.jobs.Outcomes(), Deliveries: map[string]Delivery{},
		RecoveryWindow: r.b.Timing.RecoveryWindow, RecoveryBound: r.b.Timing.recoveryBound()}
	if w != nil {
		rec.Faults = []FaultWindow{*w}
	}
	if r.b.Generators > 1 {
		rec.Requests = r.scheduled(m.start, cut, prefix)
	}
	for _, d := range r.b.Sink.Deliveries() {
		if strings.HasPrefix(d.ID, prefix) && d.First.Before(cut) {
			rec.Deliveries[d.ID] = Delivery{First: d.First, Count: d.Count}
		}
	}
	return rec
}

// scheduled stands in for the outcomes of generator processes, which the
// bench reads only when they exit: the jobs the schedule made due before
// cut, taken as accepted, so the live recovery check can compare
// deliveries with what was offered.
func (r *run) scheduled(start, cut time.Time, prefix string) []Outcome {
	sc := r.plan.Scenario
	var s Schedule = &Paced{Rate: sc.Load, Duration: cut.Sub(start)}
	if r.b.Timing.Poisson {
		s = &Poisson{Rate: sc.Load, Duration: cut.Sub(start), Seed: r.b.Timing.Seed + uint64(r.plan.Index)}
	}
	var out []Outcome
	for seq := 0; ; seq++ {
		off, ok := s.Next()
		if !ok {
			return out
		}
		due := start.Add(off)
		out = append(out, Outcome{Request: sc.Request(prefix, seq, due), Sent: due, Done: due, Status: 202})
	}
}
