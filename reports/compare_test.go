package reports

import (
	"bytes"
	"strings"
	"testing"
)

func TestCompareFlagsRealChangesOnly(t *testing.T) {
	a := fixture(t)
	b := fixture(t)
	for i := range b.Runs {
		r := &b.Runs[i]
		switch {
		case r.Strategy == "queue" && r.Scenario == "worker-crash":
			r.Lost = 12 // a loss where there was none: never noise
		case r.Strategy == "eventbus" && r.Scenario == "steady":
			r.HTTPLatencyMS.P99 *= 1.1 // +10%: noise
		case r.Strategy == "localipc" && r.Scenario == "steady":
			r.HTTPLatencyMS.P99 *= 3 // 2.5 -> 7.4 ms: real
		}
	}
	c := Compare(a, b)
	var out bytes.Buffer
	WriteComparison(&out, c, false, false)
	s := out.String()
	if c.Flagged != 2 {
		t.Errorf("%d figures flagged, want 2:\n%s", c.Flagged, s)
	}
	for _, want := range []string{"worker-crash queue", "steady localipc", "+200%"} {
		if !strings.Contains(s, want) {
			t.Errorf("comparison lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "steady eventbus") {
		t.Errorf("a 10%% change was flagged:\n%s", s)
	}
	if c := Compare(a, a); c.Flagged != 0 || len(c.Missing) != 0 {
		t.Errorf("a bench compared with itself: %d flagged, missing %v", c.Flagged, c.Missing)
	}
}
