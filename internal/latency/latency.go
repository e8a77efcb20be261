// Package latency is the one way offload records and reads a latency: an
// HdrHistogram of microseconds from 1 µs to an hour at 3 significant
// digits, read back in milliseconds. The harness, its rules and its
// reports share it so that a p99 means the same thing everywhere.
package latency

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/results"
)

// New records 1µs..1h with 3 significant digits.
func New() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
}

// Record adds d (at least 1 µs; longer than the histogram's range is
// dropped by hdrhistogram with an error nobody can act on).
func Record(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(max(1, d.Microseconds()))
}

// Percentiles reads a microsecond histogram in milliseconds.
func Percentiles(h *hdrhistogram.Histogram) results.Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return results.Percentiles{}
	}
	at := func(q float64) float64 { return Round3(float64(h.ValueAtQuantile(q)) / 1000) }
	return results.Percentiles{Count: h.TotalCount(), P50: at(50), P90: at(90), P99: at(99), P999: at(99.9),
		Max: Round3(float64(h.Max()) / 1000)}
}

// P99 is h's 99th percentile as a duration (0 when empty).
func P99(h *hdrhistogram.Histogram) time.Duration {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
}

// Round3 rounds to three decimals, as every figure in results.json is.
func Round3(v float64) float64 { return math.Round(v*1000) / 1000 }
