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
	NeverRecover int     // fault runs that did not recover within their bound
	RecoverBound float64 // that bound (s), 0 when the runs had none
	// InvalidRuns had their timing refused; their counts (lost,
	// duplicates) are exact and are in the figures above.
	InvalidRuns int
	// FaultCounted are the fault runs whose loss counts are in Lost, valid
	// or timing-invalid alike (FaultRuns: the valid ones, whose recovery
	// counts too).
	FaultCounted int
}

// Headlines computes the summary, one entry per series, in talk order.
func Headlines(f *results.File) []Headline {
	var out []Headline
	cost := costKey(f)
	for _, s := range allSeries(f) {
		if s.Strategy == BaselineStrategy {
			continue // the capacity table's reference row, nothing to summarise
		}
		h := Headline{Series: s}
		for _, r := range f.Runs {
			if seriesOf(r) != s || !counted(r) || r.Capacity != nil {
				continue // a ladder has its own table
			}
			if !measured(r) {
				h.InvalidRuns++
				h.Duplicates += r.Duplicates
				h.Accepted += r.Accepted
				if isFault(r) {
					h.FaultCounted++
					h.Lost += r.Lost
					h.FaultJobs += r.Accepted
				}
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
			h.FaultCounted++
			h.Lost += r.Lost
			h.FaultJobs += r.Accepted
			switch {
			case r.RecoveryS == nil:
				h.NeverRecover++
				h.RecoverBound = max(h.RecoverBound, r.RecoveryBoundS)
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
		case h.FaultCounted == 0:
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
		if h.InvalidRuns > 0 {
			// The counts include runs whose timing was refused: say so where they are.
			row[len(row)-2].Text += " *"
			row[len(row)-1].Text += " *"
		}
		row = append(row, recoveryCell(h))
		row = append(row, runCell(h.Cost, func(r *results.Run) Cell { return Cell{Text: num(r.CPUPer1kS)} }))
		row = append(row, runCell(h.Cost, func(r *results.Run) Cell { return Cell{Text: num(r.PeakRSSMB)} }))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// counted reports whether a run's counts (loss, duplicates) are final: it
// was measured and finished. An invalid run's counts are exact, only its
// timing was refused; an interrupted run stopped with jobs in flight.
func counted(r results.Run) bool { return r.NAReason == "" && !r.Interrupted }

func runCell(r *results.Run, fn func(*results.Run) Cell) Cell {
	if r == nil {
		return Cell{Text: "–"}
	}
	return fn(r)
}

// recoveryText is a run's recovery time: "> bound" when load was kept up
// for the whole bound after the repair and it did not recover.
func recoveryText(r results.Run) string {
	switch {
	case r.RecoveryS != nil:
		return num(*r.RecoveryS)
	case !isFault(r):
		return "–"
	case r.RecoveryBoundS > 0:
		return "> " + num(r.RecoveryBoundS)
	}
	return "never"
}

func recoveryCell(h Headline) Cell {
	switch {
	case h.FaultRuns == 0:
		return Cell{Text: "–"}
	case h.NeverRecover > 0 && h.RecoverBound > 0:
		return Cell{Text: "> " + num(h.RecoverBound), Bad: true}
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
		"lost", "dup", "unknown ids", "HTTP p99 ms", "e2e p99 ms", "lag max ms", "recovery s"}}
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
		if r.NAReason != "" {
			row := cells(name, seriesOf(r).Label(), "n/a: "+r.NAReason)
			for len(row) < len(t.Header) {
				row = append(row, Cell{})
			}
			t.Rows = append(t.Rows, row)
			continue
		}
		lost := count(r.Lost)
		if r.Interrupted {
			lost = "– (" + count(r.InFlight) + " in flight)"
		}
		row := cells(name, seriesOf(r).Label(), num(r.OfferedRPS), count(r.Sent), count(r.Accepted), count(r.Rejected),
			count(r.Delivered), lost, count(r.Duplicates), count(r.Unexpected), num(r.HTTPLatencyMS.P99), num(r.E2ELatencyMS.P99),
			num(r.LagMS.Max), recoveryText(r))
		row[7].Bad, row[8].Bad, row[9].Bad = r.Lost > 0, r.Duplicates > 0, r.Unexpected > 0
		if r.DeliveryNA != "" {
			row[6], row[7], row[11] = Cell{Text: "n/a"}, Cell{Text: "n/a"}, Cell{Text: "n/a"}
		}
		if r.Invalid != "" {
			// Counts stay: they are exact. Timing is refused.
			mark := "invalid"
			if r.Interrupted {
				mark = "interrupted"
			}
			row[0].Text += " (" + mark + ")"
			for _, i := range []int{10, 11, 12, 13} {
				row[i] = Cell{Text: mark}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
