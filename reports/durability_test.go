package reports

import (
	"testing"

	"github.com/offload/offload/results"
)

// The durability table pairs each variant's failover with its own steady
// and capacity runs, skips series that never failed over, and marks a
// loss.
func TestDurabilityTable(t *testing.T) {
	rec := 1.5
	run := func(variant, scenario string) results.Run {
		return results.Run{Strategy: "queue", Variant: variant, Scenario: scenario, Valid: true}
	}
	def, wait := run("replica", "broker-failover"), run("replica,durable=wait", "broker-failover")
	def.Accepted, def.Lost, def.Duplicates, def.RecoveryS = 400, 27, 1, &rec
	wait.Accepted, wait.Lost, wait.RecoveryS = 380, 0, &rec
	steady := run("replica,durable=wait", "steady")
	steady.HTTPLatencyMS = results.Percentiles{P50: 1.2, P99: 3.4}
	capa := run("replica,durable=wait", "capacity")
	capa.Capacity = &results.Capacity{MaxAcceptRPS: 4000, AcceptLimitedBy: "broker"}
	f := &results.File{Runs: []results.Run{run("", "steady"), def, wait, steady, capa}}
	tab := DurabilityTable(f)
	if len(tab.Rows) != 2 {
		t.Fatalf("%d rows, want 2 (the two series that failed over): %v", len(tab.Rows), tab.Rows)
	}
	want := [][]string{
		{"queue (replica)", "400", "27", "1", "1.5", "–", "–", "–"},
		{"queue (replica durable=wait)", "380", "0", "0", "1.5", "1.2", "3.4", "4,000"},
	}
	for i, r := range tab.Rows {
		for j, c := range r {
			if j < len(want[i]) && c.Text != want[i][j] {
				t.Errorf("row %d col %s = %q, want %q", i, tab.Header[j], c.Text, want[i][j])
			}
		}
	}
	if !tab.Rows[0][2].Bad || tab.Rows[1][2].Bad {
		t.Errorf("lost cells Bad = %v, %v; want only the loss marked", tab.Rows[0][2].Bad, tab.Rows[1][2].Bad)
	}
}
