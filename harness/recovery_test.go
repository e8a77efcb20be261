package harness

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRecoveryRuleOnAFakeClock plays a fault run second by second: 100 io
// jobs/s, a fault at 1s repaired at 1.5s, and deliveries that resume
// `resume` after the repair. The load must go on past the nominal 3s until
// recovery is seen (or the bound passes), and the recovery reported must be
// timed from the repair, or read "> bound".
func TestRecoveryRuleOnAFakeClock(t *testing.T) {
	const (
		bound  = 4 * time.Second
		window = 300 * time.Millisecond
	)
	nominal := at(3 * time.Second)
	fault := FaultWindow{Kind: FaultKillWorker, Start: at(time.Second), Repair: at(1500 * time.Millisecond)}
	cases := []struct {
		name     string
		resume   time.Duration // after the repair; deliveries before it wait for it
		want     float64       // recovery s; <0: "> bound"
		stopNear time.Duration // when the load stops, after the start
	}{
		// The bucket with the backlog's burst is over the offered rate; the
		// next one keeps pace: recovery is one bucket after deliveries resume.
		{name: "recovers during the nominal phase", resume: 200 * time.Millisecond, want: 0.3, stopNear: 3 * time.Second},
		{name: "recovers after the nominal phase", resume: 2500 * time.Millisecond, want: 2.6, stopNear: 4400 * time.Millisecond},
		{name: "does not recover within the bound", resume: time.Hour, want: -1, stopNear: 1500*time.Millisecond + bound + window},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			back := fault.Repair.Add(c.resume)
			// All jobs of the run up to a horizon; a snapshot keeps those due before now.
			job := func(i int) (Outcome, Delivery, bool) {
				due := at(time.Duration(i) * 10 * time.Millisecond)
				o := Outcome{Request: Request{Seq: i, ID: fmt.Sprintf("r-%d", i), Kind: "io", Due: due}, Sent: due, Done: due.Add(time.Millisecond), Status: 202}
				first := due.Add(5 * time.Millisecond)
				if !due.Before(fault.Start) && first.Before(back) {
					if c.resume == time.Hour {
						return o, Delivery{}, false
					}
					first = back // the backlog arrives at once when deliveries resume
				}
				return o, Delivery{First: first, Count: 1}, true
			}
			clk := &fakeClock{now: t0}
			snapshot := func() Record {
				now := clk.Now()
				rec := Record{Start: t0, End: now, DrainEnd: now, Deliveries: map[string]Delivery{},
					Faults: []FaultWindow{fault}, RecoveryWindow: window, RecoveryBound: bound}
				for i := 0; at(time.Duration(i) * 10 * time.Millisecond).Before(now); i++ {
					o, d, ok := job(i)
					rec.Requests = append(rec.Requests, o)
					if ok && d.First.Before(now) {
						rec.Deliveries[o.ID] = d
					}
				}
				return rec
			}
			for keepOffering(clk.Now(), nominal, &fault, bound, window, snapshot) {
				clk.now = clk.now.Add(100 * time.Millisecond)
				if clk.now.Sub(t0) > time.Minute {
					t.Fatal("the load never stopped")
				}
			}
			stopped := clk.now.Sub(t0)
			if d := stopped - c.stopNear; d < -100*time.Millisecond || d > 300*time.Millisecond {
				t.Errorf("load stopped at %v, want near %v", stopped, c.stopNear)
			}
			r := Account(snapshot()).Run
			if r.RecoveryBoundS != bound.Seconds() {
				t.Errorf("recovery bound %v, want %v", r.RecoveryBoundS, bound.Seconds())
			}
			if c.want < 0 {
				if r.RecoveryS != nil || !strings.Contains(r.RecoveryNote, "not recovered within 4s") {
					t.Errorf("recovery %v note %q, want none, within the bound", r.RecoveryS, r.RecoveryNote)
				}
				return
			}
			if r.RecoveryS == nil {
				t.Fatalf("no recovery: %s", r.RecoveryNote)
			}
			if d := *r.RecoveryS - c.want; d < -0.01 || d > 0.01 {
				t.Errorf("recovery %.3fs, want about %.3fs after the repair", *r.RecoveryS, c.want)
			}
		})
	}
}

// Without a repair there is nothing to wait for: the nominal phase is all.
func TestKeepOfferingStopsWithoutRepair(t *testing.T) {
	nominal := at(3 * time.Second)
	none := func() Record { t.Fatal("no snapshot needed"); return Record{} }
	if keepOffering(at(3*time.Second), nominal, &FaultWindow{Start: at(time.Second)}, time.Second, time.Second, none) {
		t.Error("a fault never repaired must not extend the run")
	}
	if keepOffering(at(3*time.Second), nominal, nil, time.Second, time.Second, none) {
		t.Error("a run without a fault must not be extended")
	}
	if !keepOffering(at(2*time.Second), nominal, nil, time.Second, time.Second, none) {
		t.Error("the nominal phase always runs")
	}
}
