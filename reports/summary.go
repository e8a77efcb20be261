package reports

import (
	"slices"

	"github.com/offload/offload/results"
)

// Headline is one strategy's figures for the summary table.
type Headline struct {
	Series       Series
	Steady       *results.Run // the steady scenario under the node loop
	CPU          *results.Run // the cpu scenario under the node loop
	Cost         *results.Run
	Lost         int64 // over every fault run
	FaultJobs    int64 // accepted over every fault run
	FaultRuns    int
	Duplicates   int64 // over every run
	Accepted     int64 // over every run
	WorstRecover *float64
	NeverRecover int // fault runs that never recovered
}

// Headlines computes the summary, one entry per series, in talk order.
func Headlines(f *results.File) []Headline {
	var out []Headline
	cost := costKey(f)
	for _, s := range allSeries(f) {
		h := Headline{Series: s}
		for _, r := range f.Runs {
			if seriesOf(r) != s || !measured(r) {
				continue
			}
			switch scenarioKey(r) {
			case "steady":
				h.Steady = &r
			case "cpu":
				h.CPU = &r
			}
			if scenarioKey(r) == cost {
				h.Cost = &r
			}
			h.Duplicates += r.Duplicates
			h.Accepted += r.Accepted
			if !isFault(r) {
				continue
			}
			h.FaultRuns++
			h.Lost += r.Lost
			h.FaultJobs += r.Accepted
			switch {
			case r.RecoveryS == nil:
				h.NeverRecover++
			case h.WorstRecover == nil || *r.RecoveryS > *h.WorstRecover:
				h.WorstRecover = r.RecoveryS
			}
		}
		out = append(out, h)
	}
	return out
}

// SummaryTable is the strategy x headline figures table every medium shows.
func SummaryTable(f *results.File) Table {
	t := Table{Header: []string{"strategy", "HTTP p99 (ms)", "e2e p99 (ms)", "loop lag max, cpu (ms)",
		"lost in faults", "duplicates", "worst recovery (s)", "CPU s / 1k jobs", "peak RSS (MB)"}}
	for _, h := range Headlines(f) {
		row := []Cell{{Text: h.Series.Label()}}
		row = append(row, runCell(h.Steady, func(r *results.Run) Cell { return Cell{Text: num(r.HTTPLatencyMS.P99)} }))
		row = append(row, runCell(h.Steady, func(r *results.Run) Cell { return Cell{Text: num(r.E2ELatencyMS.P99)} }))
		row = append(row, runCell(h.CPU, func(r *results.Run) Cell {
			return Cell{Text: num(r.LagMS.Max), Bad: r.LagMS.Max > LagThresholdMS}
		}))
		switch {
		case h.FaultRuns == 0:
			row = append(row, Cell{Text: "–"})
		case h.Lost == 0:
			row = append(row, Cell{Text: "0"})
		default:
			row = append(row, Cell{Text: count(h.Lost) + " (" + percent(h.Lost, h.FaultJobs) + ")", Bad: true})
		}
		if h.Duplicates == 0 {
			row = append(row, Cell{Text: "0"})
		} else {
			row = append(row, Cell{Text: count(h.Duplicates) + " (" + percent(h.Duplicates, h.Accepted) + ")", Bad: true})
		}
		row = append(row, recoveryCell(h))
		row = append(row, runCell(h.Cost, func(r *results.Run) Cell { return Cell{Text: num(r.CPUPer1kS)} }))
		row = append(row, runCell(h.Cost, func(r *results.Run) Cell { return Cell{Text: num(r.PeakRSSMB)} }))
		t.Rows = append(t.Rows, row)
	}
	return t
}

func runCell(r *results.Run, fn func(*results.Run) Cell) Cell {
	if r == nil {
		return Cell{Text: "–"}
	}
	return fn(r)
}

func recoveryCell(h Headline) Cell {
	switch {
	case h.FaultRuns == 0:
		return Cell{Text: "–"}
	case h.NeverRecover > 0:
		return Cell{Text: "never", Bad: true}
	case h.WorstRecover == nil:
		return Cell{Text: "–"}
	}
	return Cell{Text: num(*h.WorstRecover), Bad: *h.WorstRecover > RecoveryThresholdS}
}

// RunsTable lists every run, n/a ones included, for the appendix.
func RunsTable(f *results.File) Table {
	t := Table{Header: []string{"scenario", "strategy", "offered/s", "sent", "accepted", "rejected", "delivered",
		"lost", "dup", "HTTP p99 ms", "e2e p99 ms", "lag max ms", "recovery s"}}
	runs := slices.Clone(f.Runs)
	slices.SortStableFunc(runs, func(a, b results.Run) int {
		if c := rank(scenarioOrder)(a.Scenario, b.Scenario); c != 0 {
			return c
		}
		if c := rank([]string{"node", "go", "threads"})(a.Loop, b.Loop); c != 0 {
			return c
		}
		if c := compareSeries(seriesOf(a), seriesOf(b)); c != 0 {
			return c
		}
		return a.Workers - b.Workers
	})
	for _, r := range runs {
		name := scenarioKey(r)
		if r.Workers > 0 && r.Scenario == "scale" {
			name += " ×" + num(float64(r.Workers))
		}
		if r.NAReason != "" || r.Invalid != "" {
			why := "n/a: " + r.NAReason
			if r.Invalid != "" {
				why = "invalid: " + r.Invalid
			}
			row := cells(name, seriesOf(r).Label(), why)
			for len(row) < len(t.Header) {
				row = append(row, Cell{})
			}
			t.Rows = append(t.Rows, row)
			continue
		}
		rec := "–"
		if r.RecoveryS != nil {
			rec = num(*r.RecoveryS)
		} else if isFault(r) {
			rec = "never"
		}
		row := cells(name, seriesOf(r).Label(), num(r.OfferedRPS), count(r.Sent), count(r.Accepted), count(r.Rejected),
			count(r.Delivered), count(r.Lost), count(r.Duplicates), num(r.HTTPLatencyMS.P99), num(r.E2ELatencyMS.P99),
			num(r.LagMS.Max), rec)
		row[7].Bad, row[8].Bad = r.Lost > 0, r.Duplicates > 0
		t.Rows = append(t.Rows, row)
	}
	return t
}
