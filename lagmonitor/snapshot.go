package lagmonitor

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"runtime/metrics"
	"time"
)

// Snapshot is the monitor's state, in milliseconds: the JSON of GET /debug/lag.
type Snapshot struct {
	Loop             string      `json:"loop,omitempty"` // the concurrency model probed; set by the server
	Since            time.Time   `json:"since"`
	IntervalMS       float64     `json:"interval_ms"`
	BlockThresholdMS float64     `json:"block_threshold_ms"`
	Count            int64       `json:"count"`
	Blocks           int64       `json:"blocks"`
	Percentiles                  // p50_ms ... max_ms of timer lateness
	Sched            Percentiles `json:"sched"` // Go scheduler latency since Since
	Samples          []Sample    `json:"samples"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// Snapshot returns the observations since the last Reset.
func (m *Monitor) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hist
	us := func(v int64) float64 { return float64(v) / 1000 }
	s := Snapshot{
		Since:            m.since,
		IntervalMS:       float64(m.cfg.Interval) / float64(time.Millisecond),
		BlockThresholdMS: float64(m.cfg.BlockThreshold) / float64(time.Millisecond),
		Count:            h.TotalCount(),
		Blocks:           m.blocks,
		Percentiles: Percentiles{
			P50:  us(h.ValueAtQuantile(50)),
			P90:  us(h.ValueAtQuantile(90)),
			P99:  us(h.ValueAtQuantile(99)),
			P999: us(h.ValueAtQuantile(99.9)),
			Max:  float64(m.max.Microseconds()) / 1000,
			Mean: h.Mean() / 1000,
		},
		Sched:   m.sched.since(),
		Samples: append([]Sample(nil), m.series...),
	}
	if m.cur.Count > 0 {
		s.Samples = append(s.Samples, m.cur)
	}
	// The histogram reports a bucket's highest equivalent value; a
	// percentile above the exact max would only be rounding.
	for _, p := range []*float64{&s.P50, &s.P90, &s.P99, &s.P999} {
		*p = min(*p, s.Max)
	}
	return s
}

const schedMetric = "/sched/latencies:seconds"

// schedBaseline is the runtime's cumulative scheduler-latency histogram at
// the last Reset; percentiles are taken over the difference.
type schedBaseline struct {
	counts  []uint64
	buckets []float64
}

func readSched() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

func readSchedBaseline() schedBaseline {
	h := readSched()
	if h == nil {
		return schedBaseline{}
	}
	return schedBaseline{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

func (b schedBaseline) since() Percentiles {
	h := readSched()
	if h == nil {
		return Percentiles{}
	}
	counts := append([]uint64(nil), h.Counts...)
	if len(b.counts) == len(counts) {
		for i := range counts {
			counts[i] -= b.counts[i]
		}
	}
	return histPercentiles(counts, h.Buckets)
}

// histPercentiles reads percentiles off a bucketed histogram, reporting each
// bucket's upper bound (a pessimistic estimate, as a latency figure should be).
func histPercentiles(counts []uint64, buckets []float64) Percentiles {
	var total uint64
	var sum float64
	for i, c := range counts {
		total += c
		sum += float64(c) * mid(buckets[i], buckets[i+1])
	}
	if total == 0 {
		return Percentiles{}
	}
	at := func(q float64) float64 {
		rank := uint64(math.Ceil(q * float64(total)))
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank && c > 0 {
				return upper(buckets[i], buckets[i+1]) * 1000
			}
		}
		return 0
	}
	return Percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: at(1), Mean: sum / float64(total) * 1000}
}

func upper(lo, hi float64) float64 {
	if math.IsInf(hi, 1) {
		return lo
	}
	return hi
}

func mid(lo, hi float64) float64 {
	switch {
	case math.IsInf(lo, -1):
		return hi
	case math.IsInf(hi, 1):
		return lo
	}
	return (lo + hi) / 2
}

// TrimBefore drops the samples of buckets that began before t, so a page that
// reads the lag every second gets the last second, not ten minutes.
func (s *Snapshot) TrimBefore(t time.Time) {
	i := 0
	for i < len(s.Samples) && s.Samples[i].At.Before(t) {
		i++
	}
	s.Samples = s.Samples[i:]
}

// SinceParam reads the optional ?since=RFC3339 of GET /debug/lag.
func SinceParam(r *http.Request) (time.Time, bool, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("since: want an RFC 3339 time, got %q", v)
	}
	return t, true, nil
}

// Handler serves GET /debug/lag for a process with no API of its own (a
// worker): the snapshot as JSON, trimmed by ?since= as SinceParam reads it.
func Handler(m *Monitor, loop string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		since, ok, err := SinceParam(r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "field": "since"})
			return
		}
		snap := m.Snapshot()
		snap.Loop = loop
		if ok {
			snap.TrimBefore(since)
		}
		_ = json.NewEncoder(w).Encode(snap)
	})
}
