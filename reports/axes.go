package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"

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

// logScale is a log axis that never panics. gonum's LogScale panics on a
// value or bound at or below zero, and one such value (an external
// target's lag of 0, a step that offered nothing) used to abort the whole
// report. The chart builders leave such values out and say so in the
// caption; this is the last guard, drawing a stray one at the axis floor.
type logScale struct{}

// minLogBound is the floor a log axis falls back to when it is given none.
const minLogBound = 1e-3

func (logScale) Normalize(lo, hi, x float64) float64 {
	if !(hi > 0) || math.IsInf(hi, 0) {
		return 0
	}
	if !(lo > 0) || lo >= hi {
		lo = min(hi/1e3, minLogBound)
	}
	if !(x > 0) {
		x = lo
	}
	return (math.Log(x) - math.Log(lo)) / (math.Log(hi) - math.Log(lo))
}

// useLogX puts the x axis on a log scale with bounds a log can take.
func useLogX(p *plot.Plot, floor float64) {
	p.X.Scale, p.X.Tick.Marker = logScale{}, logTicks{}
	p.X.Min, p.X.Max = logBounds(p.X.Min, p.X.Max, floor)
}

// useLogY puts the y axis on a log scale with bounds a log can take.
func useLogY(p *plot.Plot, floor float64) {
	p.Y.Scale, p.Y.Tick.Marker = logScale{}, logTicks{}
	p.Y.Min, p.Y.Max = logBounds(p.Y.Min, p.Y.Max, floor)
}

// logBounds raises lo to floor (itself at least minLogBound) and keeps hi a
// decade above lo when there is nothing above it.
func logBounds(lo, hi, floor float64) (float64, float64) {
	if !(floor > 0) || math.IsInf(floor, 0) {
		floor = minLogBound
	}
	if !(lo >= floor) || math.IsInf(lo, 0) {
		lo = floor
	}
	if !(hi > lo) || math.IsInf(hi, 0) {
		hi = lo * 10
	}
	return lo, hi
}

// positive reports whether v can sit on a log axis.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// leftOut is what a chart could not draw, said in its caption so that a
// missing line reads as missing data, not as a zero.
type leftOut []string

func (l *leftOut) add(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }

// caption appends the note to a chart's caption.
func (l leftOut) caption(c string) string {
	if len(l) == 0 {
		return c
	}
	return c + " Left out (zero, missing or not measured, which a log scale cannot show): " + strings.Join(l, "; ") + "."
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
