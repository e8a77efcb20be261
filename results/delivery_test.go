package results

import "testing"

// The verdict compares each count with the one-worker drain times the
// count, and names a limit only where the line fell below ScaleLinear.
func TestScaleVerdicts(t *testing.T) {
	drain := func(w int, rps float64, mod func(*Drain)) Run {
		d := &Drain{Workers: w, Concurrency: 4, RPS: rps, CPUMSPerJob: map[string]float64{"total": 1},
			CPUCores: map[string]float64{"redis": 0.2}, MachineBusy: 0.5}
		if mod != nil {
			mod(d)
		}
		return Run{Strategy: "queue", Scenario: "scale", Variant: "workers=" + string(rune('0'+w)), Workers: w, Drain: d}
	}
	runs := []Run{
		drain(1, 250, nil),
		drain(2, 490, nil),
		drain(4, 700, func(d *Drain) { d.MachineBusy = 0.95 }),
		drain(8, 800, func(d *Drain) { d.CPUCores["redis"] = 0.9; d.MachineBusy = 0.95 }),
		{Strategy: "fireforget", Scenario: "scale", NAReason: "no workers"},
	}
	v := ScaleVerdicts(runs)
	if len(v) != 1 || v[0].Strategy != "queue" || v[0].Variant != "" || len(v[0].Points) != 4 {
		t.Fatalf("verdicts %+v, want one for queue with 4 points", v)
	}
	want := []struct {
		eff  float64
		bent string
	}{{1, ""}, {0.98, ""}, {0.7, "machine CPU"}, {0.4, "broker CPU"}}
	for i, p := range v[0].Points {
		if p.Efficiency != want[i].eff || p.BentBy != want[i].bent {
			t.Errorf("%d workers: efficiency %v bent by %q, want %v and %q", p.Workers, p.Efficiency, p.BentBy, want[i].eff, want[i].bent)
		}
	}
	throttled := ScaleVerdicts([]Run{drain(1, 250, nil), drain(2, 300, func(d *Drain) { d.Throttled = 5 })})
	if p := throttled[0].Points[1]; p.BentBy != "provider limit" {
		t.Errorf("a throttled drain bent by %q, want the provider limit", p.BentBy)
	}
	senders := ScaleVerdicts([]Run{drain(1, 250, nil), drain(2, 300, nil)})
	if p := senders[0].Points[1]; p.BentBy != "senders" {
		t.Errorf("with nothing saturated, bent by %q, want the senders", p.BentBy)
	}
}
