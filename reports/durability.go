package reports

import (
	"slices"

	"github.com/offload/offload/results"
)

// DurabilityTable sets each replicated broker's durability choices side by
// side: what a failover lost, against what the choice costs in accept
// latency (steady) and accept capacity. One row per series that ran
// broker-failover, in talk order; a figure its variant did not measure is
// –. This is the lesson a failover teaches: appendfsync always survives a
// restart of the same node, not the promotion of a replica that was
// behind; WAIT buys that back, at the price in the right-hand columns.
func DurabilityTable(f *results.File) Table {
	t := Table{Header: []string{"strategy", "accepted", "lost after 202", "duplicates", "recovery (s)",
		"steady p50 (ms)", "steady p99 (ms)", "accept capacity (req/s)"}}
	type row struct {
		s                      Series
		failover, steady, capa *results.Run
	}
	var rows []*row
	find := func(s Series) *row {
		for _, r := range rows {
			if r.s.Strategy == s.Strategy && r.s.Variant == s.Variant {
				return r
			}
		}
		return nil
	}
	for i := range f.Runs {
		r := &f.Runs[i]
		if r.Scenario == "broker-failover" && counted(*r) {
			if find(seriesOf(*r)) == nil {
				rows = append(rows, &row{s: seriesOf(*r), failover: r})
			}
		}
	}
	for i := range f.Runs {
		r := &f.Runs[i]
		if !counted(*r) {
			continue
		}
		w := find(seriesOf(*r))
		switch {
		case w == nil:
		case r.Scenario == "steady" && r.Valid:
			w.steady = r
		case r.Scenario == "capacity" && r.Capacity != nil:
			w.capa = r
		}
	}
	slices.SortStableFunc(rows, func(a, b *row) int { return compareSeries(a.s, b.s) })
	for _, r := range rows {
		fo := r.failover
		p50, p99, capa := "–", "–", "–"
		if r.steady != nil {
			p50, p99 = num(r.steady.HTTPLatencyMS.P50), num(r.steady.HTTPLatencyMS.P99)
		}
		if r.capa != nil {
			if capa = num(r.capa.Capacity.MaxAcceptRPS); r.capa.Capacity.AcceptLimitedBy == "" {
				capa = "≥ " + capa // the ladder never saw its answers fail
			}
		}
		t.Rows = append(t.Rows, []Cell{{Text: r.s.Label()}, {Text: count(fo.Accepted)},
			{Text: count(fo.Lost), Bad: fo.Lost > 0}, {Text: count(fo.Duplicates)}, {Text: recoveryText(*fo)},
			{Text: p50}, {Text: p99}, {Text: capa}})
	}
	return t
}

// durabilityNote says how to read DurabilityTable.
const durabilityNote = "broker-failover SIGKILLs the master holding the jobs; a replica takes over. " +
	"\"lost after 202\" counts jobs the server acknowledged and the mail sink never received. " +
	"The replica variants hold the replication link for a moment before the kill (the replica is behind, as over a busy network link); " +
	"the cluster variants do not, and on loopback a replica is never behind. " +
	"`durable=wait` answers 202 only after WAIT confirmed a replica has the job; its price is the steady latency and the accept capacity beside it."
