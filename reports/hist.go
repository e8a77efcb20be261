package reports

import (
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/results"
)

// spectrumPoints are the percentiles the spectrum samples from a raw
// histogram: dense where the curve bends (the tail), up to 99.99%.
var spectrumPoints = func() []float64 {
	ps := []float64{0.5}
	for n := 0.4; n <= 4.0001; n += 0.1 { // n "nines": p = 1 - 10^-n, up to 99.99%
		ps = append(ps, 1-math.Pow(10, -n))
	}
	return ps
}()

// HistogramQuantiles reads the raw HDR histograms the harness kept beside
// results.json in dir, so the spectrum shows the measured distribution
// instead of five summary percentiles. A run without histograms (or whose
// file cannot be read) falls back to its summary.
func HistogramQuantiles(dir string) func(results.Run, Metric) []Quantile {
	return func(r results.Run, m Metric) []Quantile {
		if r.Histograms == "" {
			return nil
		}
		hs, err := results.ReadHistograms(dir, r)
		if err != nil {
			return nil
		}
		name := results.HistHTTP
		if m == MetricE2E {
			name = results.HistE2E
		}
		return quantilesOf(hs[name])
	}
}

// quantilesOf samples h (in microseconds) into milliseconds; points beyond
// what the count can resolve (p > 1 - 1/count) are left out.
func quantilesOf(h *hdrhistogram.Histogram) []Quantile {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	limit := 1 - 1/float64(h.TotalCount())
	var qs []Quantile
	for _, p := range spectrumPoints {
		if p > limit && len(qs) > 0 {
			break
		}
		qs = append(qs, Quantile{P: p, MS: float64(h.ValueAtQuantile(100*p)) / 1000})
	}
	if limit > qs[len(qs)-1].P {
		qs = append(qs, Quantile{P: min(limit, 0.9999), MS: float64(h.Max()) / 1000})
	}
	return qs
}
