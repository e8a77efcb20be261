package harness

import (
	"context"
	"testing"
	"time"
)

// fakeClock jumps straight to whatever time is waited for; fire can
// advance it further to play a slow generator.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

func offsets(s Schedule) []time.Duration {
	var out []time.Duration
	for {
		d, ok := s.Next()
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

func TestPacedSchedule(t *testing.T) {
	tests := []struct {
		name  string
		rate  RateFunc
		d     time.Duration
		count int
		at    map[int]time.Duration
	}{
		{"constant 100/s for 1s", Constant(100), time.Second, 100, map[int]time.Duration{0: 0, 1: 10 * time.Millisecond, 99: 990 * time.Millisecond}},
		{"constant 3/s for 1s", Constant(3), time.Second, 3, map[int]time.Duration{2: 666666667}},
		{"step 10/s x4 during [1s,2s)", Step(10, 4, time.Second, time.Second), 3 * time.Second, 10 + 40 + 10,
			map[int]time.Duration{10: time.Second, 11: time.Second + 25*time.Millisecond, 50: 2 * time.Second}},
		{"zero rate", Constant(0), time.Second, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := offsets(&Paced{Rate: tt.rate, Duration: tt.d})
			if len(got) != tt.count {
				t.Fatalf("%d requests, want %d", len(got), tt.count)
			}
			for i, want := range tt.at {
				if got[i] != want {
					t.Errorf("request %d due at %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

func TestPoissonScheduleIsReproducibleAndNearRate(t *testing.T) {
	a := offsets(&Poisson{Rate: Constant(1000), Duration: 10 * time.Second, Seed: 7})
	b := offsets(&Poisson{Rate: Constant(1000), Duration: 10 * time.Second, Seed: 7})
	if len(a) != len(b) || a[17] != b[17] {
		t.Fatal("same seed, different schedules")
	}
	if len(a) < 9500 || len(a) > 10500 {
		t.Errorf("%d arrivals in 10s at 1000/s", len(a))
	}
}

func TestGenerateRecordsSendDelayFromDueTime(t *testing.T) {
	start := time.Unix(1000, 0)
	clk := &fakeClock{now: start}
	var dues []time.Time
	// Every 10th send takes the generator 25ms: the next due times pass
	// while it is busy, so those requests go out late, and must say so.
	pace := Generate(context.Background(), clk, start, &Paced{Rate: Constant(100), Duration: time.Second}, func(seq int, due time.Time) {
		dues = append(dues, due)
		if seq%10 == 0 {
			clk.now = clk.now.Add(25 * time.Millisecond)
		}
	})
	if pace.Fired != 100 || len(dues) != 100 {
		t.Fatalf("fired %d, want 100", pace.Fired)
	}
	if dues[1] != start.Add(10*time.Millisecond) {
		t.Errorf("due times must follow the schedule, not the sends: got %v", dues[1].Sub(start))
	}
	if pace.MaxDelay != 15*time.Millisecond {
		t.Errorf("max send delay %v, want 15ms (25ms busy minus the 10ms interval)", pace.MaxDelay)
	}
	if got := pace.SendDelay.TotalCount(); got != 100 {
		t.Errorf("send delay count %d", got)
	}
}

func TestGenerateStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := &fakeClock{now: time.Unix(0, 0)}
	pace := Generate(ctx, clk, clk.now, &Paced{Rate: Constant(100), Duration: time.Second}, func(seq int, _ time.Time) {
		if seq == 9 {
			cancel()
		}
	})
	if pace.Fired != 10 {
		t.Errorf("fired %d after cancel at the 10th, want 10", pace.Fired)
	}
}

func TestScenarioMix(t *testing.T) {
	s, err := Quick().Build(CPU)
	if err != nil {
		t.Fatal(err)
	}
	var cpu []int
	for i := range 800 {
		if r := s.Request("r-", i, time.Time{}); r.Kind == "cpu" {
			cpu = append(cpu, i)
			if r.CostMS != int(s.CPUCost/time.Millisecond) {
				t.Errorf("cpu job cost %d", r.CostMS)
			}
		}
	}
	if len(cpu) != 2 || cpu[0] != s.CPUFirst || cpu[1] != s.CPUFirst+s.CPUEvery {
		t.Errorf("cpu jobs at %v, want every %d starting at %d", cpu, s.CPUEvery, s.CPUFirst)
	}
	if _, err := Quick().Build("nope"); err == nil {
		t.Error("unknown scenario accepted")
	}
}
