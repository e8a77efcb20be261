package reports

import (
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func TestQuantilesOfHistogram(t *testing.T) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := 1; i <= 10_000; i++ {
		_ = h.RecordValue(int64(i) * 100) // 0.1 ms … 1000 ms, uniform
	}
	qs := quantilesOf(h)
	if len(qs) < 30 {
		t.Fatalf("%d points, want a dense curve", len(qs))
	}
	if qs[0].P != 0.5 && (qs[0].P < 0.49 || qs[0].P > 0.51) {
		t.Errorf("first point at p=%v, want 50%%", qs[0].P)
	}
	if ms := qs[0].MS; ms < 495 || ms > 505 {
		t.Errorf("median %v ms, want about 500", ms)
	}
	last := qs[len(qs)-1]
	if last.P > 0.9999 || last.MS < 999 {
		t.Errorf("last point %+v, want the max near 1000 ms at p <= 99.99%%", last)
	}
	for i := 1; i < len(qs); i++ {
		if qs[i].P <= qs[i-1].P || qs[i].MS < qs[i-1].MS {
			t.Fatalf("points not increasing at %d: %+v then %+v", i, qs[i-1], qs[i])
		}
	}
}
