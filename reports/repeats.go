package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/offload/offload/results"
)

// A bench run with --repeat N holds N runs of every (strategy, scenario).
// One run's p99 on a shared machine is one draw; the reports show the
// median of the repeats, and how far apart they were, so a reader can tell
// a difference between strategies from the machine's noise.

// Spread is a figure over the valid repeats of one run.
type Spread struct {
	Median, Min, Max float64
	N                int
}

func spreadOf(vals []float64) Spread {
	if len(vals) == 0 {
		return Spread{}
	}
	v := slices.Clone(vals)
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Spread{Median: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// String is "median [min–max]", or the value alone for one repeat.
func (s Spread) String() string {
	if s.N <= 1 || s.Min == s.Max {
		return figureText(s.Median)
	}
	return fmt.Sprintf("%s [%s–%s]", figureText(s.Median), figureText(s.Min), figureText(s.Max))
}

// groups collects runs by what was run, in first-seen order.
func groups(runs []results.Run) ([]string, map[string][]results.Run) {
	var keys []string
	by := map[string][]results.Run{}
	for _, r := range runs {
		k := runKey(r)
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	return keys, by
}

// repeated reports whether f holds more than one run of anything.
func repeated(f *results.File) bool {
	for _, r := range f.Runs {
		if r.Repeat > 0 {
			return true
		}
	}
	return false
}

func values(runs []results.Run, get func(results.Run) (float64, bool)) []float64 {
	var out []float64
	for _, r := range runs {
		if v, ok := get(r); ok {
			out = append(out, v)
		}
	}
	return out
}

// Collapse returns f with each run's repeats folded into one: the repeat
// whose HTTP p99 is the median, its latency, throughput, lag, cost and
// recovery figures replaced by their medians over the valid repeats, and
// its lost and duplicate counts by the worst repeat's (a loss in one
// repeat is a loss, not noise). Without repeats f is returned as is.
// Capacity ladders are not folded: the first repeat's ladder stands.
func Collapse(f *results.File) *results.File {
	if !repeated(f) {
		return f
	}
	out := *f
	out.Runs = nil
	keys, by := groups(f.Runs)
	for _, k := range keys {
		rs := by[k]
		if len(rs) == 1 {
			out.Runs = append(out.Runs, rs[0])
			continue
		}
		if rs[0].Capacity != nil {
			out.Runs = append(out.Runs, rs[0])
			continue
		}
		out.Runs = append(out.Runs, fold(rs))
	}
	return &out
}

func fold(rs []results.Run) results.Run {
	var valid, finished []results.Run
	for _, r := range rs {
		if measured(r) {
			valid = append(valid, r)
		}
		if counted(r) {
			finished = append(finished, r)
		}
	}
	var base results.Run
	if len(valid) == 0 {
		base = rs[0]
		if len(finished) > 0 {
			base = finished[0]
		}
	} else {
		byP99 := slices.Clone(valid)
		slices.SortStableFunc(byP99, func(a, b results.Run) int {
			return cmp.Compare(a.HTTPLatencyMS.P99, b.HTTPLatencyMS.P99)
		})
		base = byP99[len(byP99)/2]
		med := func(get func(results.Run) float64) float64 {
			return spreadOf(values(valid, func(r results.Run) (float64, bool) { return get(r), true })).Median
		}
		for _, p := range []struct {
			dst *results.Percentiles
			get func(results.Run) results.Percentiles
		}{
			{&base.HTTPLatencyMS, func(r results.Run) results.Percentiles { return r.HTTPLatencyMS }},
			{&base.E2ELatencyMS, func(r results.Run) results.Percentiles { return r.E2ELatencyMS }},
			{&base.ServiceLatencyMS, func(r results.Run) results.Percentiles { return r.ServiceLatencyMS }},
			{&base.ProbeLatencyMS, func(r results.Run) results.Percentiles { return r.ProbeLatencyMS }},
		} {
			p.dst.P50 = med(func(r results.Run) float64 { return p.get(r).P50 })
			p.dst.P90 = med(func(r results.Run) float64 { return p.get(r).P90 })
			p.dst.P99 = med(func(r results.Run) float64 { return p.get(r).P99 })
			p.dst.P999 = med(func(r results.Run) float64 { return p.get(r).P999 })
		}
		base.ThroughputRPS.Offered = med(func(r results.Run) float64 { return r.ThroughputRPS.Offered })
		base.ThroughputRPS.Accepted = med(func(r results.Run) float64 { return r.ThroughputRPS.Accepted })
		base.ThroughputRPS.Delivered = med(func(r results.Run) float64 { return r.ThroughputRPS.Delivered })
		base.LagMS.Max = med(func(r results.Run) float64 { return r.LagMS.Max })
		base.LagMS.P99 = med(func(r results.Run) float64 { return r.LagMS.P99 })
		base.CPUPer1kS = med(func(r results.Run) float64 { return r.CPUPer1kS })
		base.PeakRSSMB = med(func(r results.Run) float64 { return r.PeakRSSMB })
		if isFault(base) {
			rec := spreadOf(values(valid, recoveryValue)).Median
			if math.IsInf(rec, 1) {
				base.RecoveryS = nil
			} else {
				base.RecoveryS = &rec
			}
		}
	}
	for _, r := range finished {
		base.Lost = max(base.Lost, r.Lost)
		base.Duplicates = max(base.Duplicates, r.Duplicates)
		base.Unexpected = max(base.Unexpected, r.Unexpected)
	}
	base.Notes = append(slices.Clone(base.Notes), fmt.Sprintf("median of %d valid repeats (of %d); lost and duplicates are the worst repeat's", len(valid), len(rs)))
	return base
}

// recoveryValue is a run's recovery time, +Inf when it did not recover.
func recoveryValue(r results.Run) (float64, bool) {
	if !isFault(r) {
		return 0, false
	}
	if r.RecoveryS == nil {
		return math.Inf(1), true
	}
	return *r.RecoveryS, true
}

// spreadFigures are the figures the spread table and compare read over repeats.
var spreadFigures = []struct {
	name string
	get  func(results.Run) (float64, bool)
}{
	{"HTTP p99 (ms)", func(r results.Run) (float64, bool) { return r.HTTPLatencyMS.P99, r.HTTPLatencyMS.Count > 0 }},
	{"e2e p99 (ms)", func(r results.Run) (float64, bool) { return r.E2ELatencyMS.P99, r.E2ELatencyMS.Count > 0 }},
	{"delivered/s", func(r results.Run) (float64, bool) { return r.ThroughputRPS.Delivered, true }},
	{"lost", func(r results.Run) (float64, bool) { return float64(r.Lost), true }},
}

// SpreadTable shows, for every run measured more than once, the median and
// the range (min–max) of its headline figures over its valid repeats. It
// has no rows without repeats.
func SpreadTable(f *results.File) Table {
	t := Table{Header: []string{"run", "valid repeats"}}
	for _, fig := range spreadFigures {
		t.Header = append(t.Header, fig.name+" median [min–max]")
	}
	if !repeated(f) {
		return t
	}
	keys, by := groups(f.Runs)
	for _, k := range keys {
		rs := by[k]
		if len(rs) < 2 || rs[0].NAReason != "" {
			continue
		}
		var valid []results.Run
		for _, r := range rs {
			if measured(r) {
				valid = append(valid, r)
			}
		}
		row := cells(k, fmt.Sprintf("%d of %d", len(valid), len(rs)))
		for _, fig := range spreadFigures {
			vs := values(valid, fig.get)
			if len(vs) == 0 {
				row = append(row, Cell{Text: "–"})
				continue
			}
			s := spreadOf(vs)
			row = append(row, Cell{Text: s.String(), Bad: fig.name == "lost" && s.Max > 0})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
