package reports

import (
	"strings"
	"testing"

	"github.com/offload/offload/results"
)

func repeatsOf(p99s []float64, lost []int64) []results.Run {
	var out []results.Run
	for i, p := range p99s {
		out = append(out, results.Run{Strategy: "queue", Scenario: "steady", Loop: "node", Repeat: i, Accepted: 100,
			HTTPLatencyMS: results.Percentiles{Count: 100, P99: p}, ThroughputRPS: results.Throughput{Delivered: 100 - float64(i)},
			Lost: lost[i]})
	}
	return out
}

func TestCollapseTakesMediansAndWorstLoss(t *testing.T) {
	runs := repeatsOf([]float64{9, 3, 5}, []int64{0, 2, 0})
	runs = append(runs, results.Run{Strategy: "queue", Scenario: "steady", Loop: "node", Repeat: 3, Accepted: 100,
		HTTPLatencyMS: results.Percentiles{Count: 100, P99: 500}, Lost: 7, Invalid: "generator fell behind"})
	f := Collapse(&results.File{Runs: runs})
	if len(f.Runs) != 1 {
		t.Fatalf("%d runs after collapse, want 1", len(f.Runs))
	}
	r := f.Runs[0]
	if r.HTTPLatencyMS.P99 != 5 {
		t.Errorf("HTTP p99 %v, want the median of the valid repeats (5), not the invalid run's 500", r.HTTPLatencyMS.P99)
	}
	if r.ThroughputRPS.Delivered != 99 {
		t.Errorf("delivered/s %v, want the median 99", r.ThroughputRPS.Delivered)
	}
	if r.Lost != 7 {
		t.Errorf("lost %d, want the worst repeat's (7, exact even in the invalid one)", r.Lost)
	}
	single := &results.File{Runs: repeatsOf([]float64{4}, []int64{0})}
	if Collapse(single) != single {
		t.Error("without repeats the file is returned as is")
	}
}

func TestSpreadTable(t *testing.T) {
	tb := SpreadTable(&results.File{Runs: repeatsOf([]float64{9, 3, 5}, []int64{0, 2, 0})})
	if len(tb.Rows) != 1 {
		t.Fatalf("%d rows", len(tb.Rows))
	}
	row := tb.Rows[0]
	if row[1].Text != "3 of 3" || row[2].Text != "5 [3–9]" {
		t.Errorf("row %v: want 3 of 3 and HTTP p99 5 [3–9]", texts(row))
	}
	if lost := row[len(row)-1]; lost.Text != "0 [0–2]" || !lost.Bad {
		t.Errorf("lost cell %+v: want 0 [0–2], marked", lost)
	}
}

// With repeats on both sides, compare judges by the measured spread: a big
// change inside overlapping ranges is noise, a small one outside them is not.
func TestCompareUsesMeasuredSpread(t *testing.T) {
	cases := []struct {
		name      string
		old, new  []float64
		wantFlag  bool
		wantCount int
	}{
		{"overlapping, +60% median", []float64{3, 5, 9}, []float64{4, 8, 10}, false, 1},
		{"apart, +10% median", []float64{10, 10.1, 10.2}, []float64{11, 11.1, 11.2}, true, 1},
		{"no repeats: guessed bounds", []float64{10}, []float64{11}, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			zero := make([]int64, 3)
			a := &results.File{Runs: repeatsOf(c.old, zero)}
			b := &results.File{Runs: repeatsOf(c.new, zero)}
			cmp := Compare(a, b)
			var flagged bool
			for _, row := range cmp.Table.Rows {
				if strings.HasPrefix(row[1].Text, "HTTP p99") {
					flagged = row[4].Bad
				}
			}
			if flagged != c.wantFlag || cmp.Measured < c.wantCount {
				t.Errorf("HTTP p99 flagged %v (want %v), measured %d", flagged, c.wantFlag, cmp.Measured)
			}
		})
	}
}
