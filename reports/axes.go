package reports

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// ninesScale spaces percentiles by log(1/(1-p)), as HdrHistogram's plots
// do, so 90%, 99%, 99.9% and 99.99% sit an equal step apart and the tail,
// where the strategies differ, gets most of the width. Data x is p in [0,1).
type ninesScale struct{}

func nines(p float64) float64 { return -math.Log10(1 - min(p, 0.999999)) }

func (ninesScale) Normalize(lo, hi, x float64) float64 {
	return (nines(x) - nines(lo)) / (nines(hi) - nines(lo))
}

// ninesTicks labels the percentiles a reader looks for.
var ninesTicks = plot.ConstantTicks{
	{Value: 0.5, Label: "50%"}, {Value: 0.75}, {Value: 0.9, Label: "90%"},
	{Value: 0.99, Label: "99%"}, {Value: 0.999, Label: "99.9%"}, {Value: 0.9999, Label: "99.99%"},
}

// logTicks labels 1, 2, 5 times powers of ten when the axis spans few
// decades and only the powers when it spans many; gonum's LogTicks labels
// only the powers, which leaves a short axis with one number on it.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	lo, hi = max(lo, 1e-9), max(hi, 1e-9)
	decades := math.Log10(hi / lo)
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow10(int(e))
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (decades < 3 && (m == 2 || m == 5)) {
				t.Label = formatTick(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

func formatTick(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// useLogY puts an axis on a log scale and keeps every value drawable.
func useLogY(p *plot.Plot, floor float64) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Y.Min = max(p.Y.Min, floor)
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min * 10
	}
}

// roundUp returns a tidy axis maximum at or above v.
func roundUp(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow10(int(math.Floor(math.Log10(v))))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}
