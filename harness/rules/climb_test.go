package rules

import (
	"fmt"
	"testing"
)

// TestClimbFindsTheKnee runs the climb against made-up systems (a rate
// passes when the system says so) and checks the rates it offered and the
// knee it read.
func TestClimbFindsTheKnee(t *testing.T) {
	cases := []struct {
		name      string
		climb     Climb
		passes    func(rate float64) bool
		offered   string
		pass      float64
		fail      float64
		foundKnee bool
	}{
		{name: "knee at 300, bisected to 10%", climb: Climb{Floor: 50, Factor: 2, Max: 10000, Failures: 2, Precision: 0.1},
			passes:  func(r float64) bool { return r <= 300 },
			offered: "50 100 200 400 800 283 336 308", pass: 283, fail: 308, foundKnee: true},
		{name: "one noisy failure does not end the climb", climb: Climb{Floor: 50, Factor: 2, Max: 10000, Failures: 2, Precision: 0.5},
			passes:  func(r float64) bool { return r != 200 && r <= 1000 },
			offered: "50 100 200 400 800 1600 3200 1131", pass: 800, fail: 1131, foundKnee: true},
		{name: "a single failure ends it when asked", climb: Climb{Floor: 50, Factor: 2, Max: 10000, Failures: 1, Precision: 1},
			passes:  func(r float64) bool { return r <= 150 },
			offered: "50 100 200", pass: 100, fail: 200, foundKnee: true},
		{name: "nothing passes", climb: Climb{Floor: 50, Factor: 2, Max: 10000, Failures: 2, Precision: 0.1},
			passes:  func(float64) bool { return false },
			offered: "50 100", pass: 0, fail: 50, foundKnee: true},
		{name: "the ladder runs out of rates", climb: Climb{Floor: 50, Factor: 2, Max: 400, Failures: 2, Precision: 0.1},
			passes:  func(float64) bool { return true },
			offered: "50 100 200 400", pass: 400},
		{name: "no floor offers nothing", climb: Climb{Factor: 2, Max: 400},
			passes: func(float64) bool { return true }, offered: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := c.climb
			var offered string
			for n := 0; n < 100; n++ {
				rate, ok := cl.Next()
				if !ok {
					break
				}
				offered += fmt.Sprintf(" %g", rate)
				cl.Record(rate, c.passes(rate))
			}
			if got := offered; len(got) > 0 {
				offered = got[1:]
			}
			if offered != c.offered {
				t.Errorf("offered %q, want %q", offered, c.offered)
			}
			pass, fail, ok := cl.Knee()
			if pass != c.pass || ok != c.foundKnee || ok && fail != c.fail {
				t.Errorf("knee pass %g fail %g found %v, want %g %g %v", pass, fail, ok, c.pass, c.fail, c.foundKnee)
			}
		})
	}
}
