package reports

import (
	"testing"

	"github.com/offload/offload/results"
)

// A fault run whose timing was refused still counts its exact losses: a
// strategy whose every fault run was invalid shows them, not "–".
func TestSummaryCountsLossesOfInvalidFaultRuns(t *testing.T) {
	f := &results.File{Runs: []results.Run{{
		Strategy: "s", Scenario: "worker-crash", Accepted: 100, Lost: 7,
		Invalid: "generator fell behind", Faults: []results.Fault{{Kind: "kill-worker"}},
	}}}
	tab := SummaryTable(f)
	if len(tab.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(tab.Rows))
	}
	if got := tab.Rows[0][4].Text; got != "7 (7%) *" {
		t.Errorf("lost in faults = %q, want the invalid run's 7 (7%%), marked *", got)
	}
}
