package harness

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Two generators' logs, written and read back, merge to histograms whose
// counts are the sums and whose percentiles cover both.
func TestIntervalLogRoundTripAndMerge(t *testing.T) {
	start := time.UnixMilli(1_764_000_000_123)
	var logs []bytes.Buffer
	for g, lat := range []int64{1000, 9000} { // 1ms and 9ms
		var b bytes.Buffer
		w, err := NewIntervalLogWriter(&b, start)
		if err != nil {
			t.Fatal(err)
		}
		for sec := range 3 {
			h := newLatencyHist()
			for range 100 * (g + 1) {
				_ = h.RecordValue(lat)
			}
			from := start.Add(time.Duration(sec) * time.Second)
			if err := w.Write("http", from, from.Add(time.Second), h); err != nil {
				t.Fatal(err)
			}
			if err := w.Write("send_delay", from, from.Add(time.Second), newLatencyHist()); err != nil {
				t.Fatal(err)
			}
		}
		logs = append(logs, b)
	}
	if !strings.HasPrefix(logs[0].String(), "#[Histogram log format version 1.3]\n") ||
		!strings.Contains(logs[0].String(), "\nTag=http,1.000,1.000,1.000,HISTF") {
		t.Fatalf("not the documented format:\n%s", logs[0].String())
	}
	var all []Interval
	for _, b := range logs {
		ivs, err := ReadIntervalLog(&b)
		if err != nil {
			t.Fatal(err)
		}
		if len(ivs) != 6 || !ivs[2].Start.Equal(start.Add(time.Second)) || ivs[2].Length != time.Second {
			t.Fatalf("read %d intervals, third at %v for %v", len(ivs), ivs[2].Start.Sub(start), ivs[2].Length)
		}
		all = append(all, ivs...)
	}
	h := MergeIntervals(all, "http")
	if h.TotalCount() != 3*100+3*200 {
		t.Errorf("merged count %d, want 900 (the sum)", h.TotalCount())
	}
	if p50, p99 := h.ValueAtQuantile(50), h.ValueAtQuantile(99); p50 < 8990 || p99 < 8990 || h.Min() > 1001 {
		t.Errorf("merged p50 %d p99 %d min %d: two thirds of the samples are 9ms, a third 1ms", p50, p99, h.Min())
	}
	if MergeIntervals(all, "send_delay").TotalCount() != 0 {
		t.Error("tags must be kept apart")
	}
}

func TestIntervalLogRejectsGarbage(t *testing.T) {
	for _, in := range []string{"Tag=http\n", "1.0,2.0,3.0\n", "1.0,2.0,3.0,notbase64!\n", "x,1,1,HISTF\n"} {
		if _, err := ReadIntervalLog(strings.NewReader(in)); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}
