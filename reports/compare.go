package reports

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/offload/offload/results"
)

// A change counts as beyond run-to-run noise when it passes both the
// relative and the absolute bound of its metric. The bounds are generous on
// purpose: tails and lag maxima move between identical runs on a shared
// 2-core machine, and a false alarm costs a reviewer's trust.
type noise struct {
	rel, abs float64
}

type metric struct {
	name  string
	noise noise
	get   func(r results.Run) (float64, bool) // false: not measured
	// counts are flagged on any change from or to zero: a loss is never noise.
	count bool
}

var compareMetrics = []metric{
	{name: "HTTP p99 (ms)", noise: noise{0.25, 1}, get: func(r results.Run) (float64, bool) {
		return r.HTTPLatencyMS.P99, r.HTTPLatencyMS.Count > 0
	}},
	{name: "e2e p99 (ms)", noise: noise{0.25, 5}, get: func(r results.Run) (float64, bool) {
		return r.E2ELatencyMS.P99, r.E2ELatencyMS.Count > 0
	}},
	{name: "loop lag max (ms)", noise: noise{0.5, 2}, get: func(r results.Run) (float64, bool) { return r.LagMS.Max, true }},
	{name: "delivered/s", noise: noise{0.1, 1}, get: func(r results.Run) (float64, bool) { return r.ThroughputRPS.Delivered, true }},
	{name: "lost", noise: noise{0.5, 2}, count: true, get: func(r results.Run) (float64, bool) { return float64(r.Lost), true }},
	{name: "duplicates", noise: noise{0.5, 2}, count: true, get: func(r results.Run) (float64, bool) { return float64(r.Duplicates), true }},
	{name: "recovery (s)", noise: noise{0.5, 1}, get: func(r results.Run) (float64, bool) {
		if r.RecoveryS == nil {
			return math.Inf(1), isFault(r)
		}
		return *r.RecoveryS, true
	}},
	{name: "CPU s / 1k jobs", noise: noise{0.2, 0.05}, get: func(r results.Run) (float64, bool) { return r.CPUPer1kS, r.CPUPer1kS > 0 }},
	{name: "peak RSS (MB)", noise: noise{0.2, 5}, get: func(r results.Run) (float64, bool) { return r.PeakRSSMB, r.PeakRSSMB > 0 }},
}

// CompareNoise describes the guessed bounds, for the comparison's footer:
// they apply where a bench has no repeats to measure its noise with.
func CompareNoise() string {
	s := "beyond noise means past both bounds:"
	for _, m := range compareMetrics {
		s += fmt.Sprintf(" %s ±%s%% and ±%s;", m.name, num(100*m.noise.rel), num(m.noise.abs))
	}
	return s + " lost and duplicates also on any change from or to zero."
}

// runKey identifies a run across two benches.
func runKey(r results.Run) string {
	k := scenarioKey(r) + " " + seriesOf(r).Label()
	if r.Scenario == "scale" {
		k += fmt.Sprintf(" ×%d", r.Workers)
	}
	return k
}

// Comparison is the side-by-side of two benches.
type Comparison struct {
	Table   Table // every compared figure; Bad marks a change beyond noise
	Flagged int
	Missing []string // runs measured in one bench only
	// Measured counts the figures judged by their measured spread (both
	// benches had repeats) instead of the guessed bounds.
	Measured int
}

// Compare sets bench b (the new one) against a (the baseline).
func Compare(a, b *results.File) Comparison {
	var c Comparison
	c.Table.Header = []string{"run", "figure", "baseline", "new", "change", ""}
	old := map[string][]results.Run{}
	for _, r := range a.Runs {
		if measured(r) {
			old[runKey(r)] = append(old[runKey(r)], r)
		}
	}
	cur := map[string][]results.Run{}
	for _, r := range b.Runs {
		if measured(r) {
			cur[runKey(r)] = append(cur[runKey(r)], r)
		}
	}
	seen := map[string]bool{}
	runs := slices.Clone(b.Runs)
	slices.SortStableFunc(runs, func(x, y results.Run) int {
		if d := rank(scenarioOrder)(x.Scenario, y.Scenario); d != 0 {
			return d
		}
		return compareSeries(seriesOf(x), seriesOf(y))
	})
	for _, r := range runs {
		if !measured(r) {
			continue
		}
		k := runKey(r)
		if seen[k] {
			continue // a repeat: its group was compared at its first run
		}
		seen[k] = true
		olds, ok := old[k]
		if !ok {
			c.Missing = append(c.Missing, k+": only in the new bench")
			continue
		}
		for _, m := range compareMetrics {
			xs, ys := values(olds, m.get), values(cur[k], m.get)
			if len(xs) == 0 || len(ys) == 0 {
				continue
			}
			x, y := spreadOf(xs).Median, spreadOf(ys).Median
			var flag bool
			if len(xs) >= 2 && len(ys) >= 2 {
				// Both benches measured their own noise: a change is one
				// whose repeats do not overlap at all.
				sx, sy := spreadOf(xs), spreadOf(ys)
				flag = sx.Max < sy.Min || sy.Max < sx.Min
				c.Measured++
			} else {
				flag = beyondNoise(m, x, y)
			}
			if flag {
				c.Flagged++
			}
			c.Table.Rows = append(c.Table.Rows, []Cell{{Text: k}, {Text: m.name}, {Text: figureText(x)}, {Text: figureText(y)},
				{Text: change(x, y), Bad: flag}, {Text: map[bool]string{true: "◆"}[flag], Bad: flag}})
		}
	}
	for _, r := range a.Runs {
		if k := runKey(r); measured(r) && !seen[k] {
			c.Missing = append(c.Missing, k+": only in the baseline")
		}
	}
	return c
}

func beyondNoise(m metric, x, y float64) bool {
	if math.IsInf(x, 1) || math.IsInf(y, 1) {
		return math.IsInf(x, 1) != math.IsInf(y, 1)
	}
	if m.count && (x == 0) != (y == 0) {
		return true
	}
	d := math.Abs(y - x)
	base := max(math.Abs(x), 1e-9)
	return d > m.noise.abs && d/base > m.noise.rel
}

func figureText(v float64) string {
	if math.IsInf(v, 1) {
		return "never"
	}
	return num(v)
}

func change(x, y float64) string {
	switch {
	case math.IsInf(x, 1) || math.IsInf(y, 1):
		if math.IsInf(x, 1) == math.IsInf(y, 1) {
			return "="
		}
		return "–"
	case x == y:
		return "="
	case x == 0:
		return "+" + num(y)
	}
	return fmt.Sprintf("%+.0f%%", 100*(y-x)/math.Abs(x))
}

// WriteComparison prints the comparison for a terminal: the figures beyond
// noise (all of them with all), the runs only one bench has, and the bounds.
func WriteComparison(w io.Writer, c Comparison, all, color bool) {
	t := Table{Header: c.Table.Header}
	for _, row := range c.Table.Rows {
		if all || row[4].Bad {
			t.Rows = append(t.Rows, row)
		}
	}
	if len(t.Rows) > 0 {
		writeAligned(w, t, color)
	}
	fmt.Fprintf(w, "\n%d of %d figures changed beyond run-to-run noise.\n", c.Flagged, len(c.Table.Rows))
	for _, m := range c.Missing {
		fmt.Fprintln(w, "  "+m)
	}
	if c.Measured > 0 {
		fmt.Fprintf(w, "(%d figures had repeats in both benches: beyond noise there means their ranges of repeats do not overlap)\n", c.Measured)
	}
	fmt.Fprintln(w, "("+CompareNoise()+")")
}
