package reports

import (
	"strings"
	"testing"

	"github.com/offload/offload/results"
)

// An invalid run's timing is refused but its counts are exact, so the
// summary keeps its losses (marked); an interrupted run is kept apart.
func TestSummaryKeepsInvalidRunsCounts(t *testing.T) {
	bound := 10.0
	crash := []results.Fault{{Kind: "kill-worker", Injected: true}}
	runs := []results.Run{
		{Strategy: "queue", Scenario: "steady", Loop: "node", Accepted: 100, Delivered: 100,
			HTTPLatencyMS: results.Percentiles{Count: 100, P99: 3}},
		{Strategy: "queue", Scenario: "worker-crash", Loop: "node", Accepted: 100, Delivered: 96, Lost: 4, Duplicates: 1,
			Invalid: "generator fell behind its schedule", RecoveryBoundS: bound, Faults: crash},
		{Strategy: "queue", Scenario: "web-crash", Loop: "node", Accepted: 100, Delivered: 50, InFlight: 50,
			Invalid: "interrupted (Ctrl-C)", Interrupted: true},
	}
	f := &results.File{Runs: runs}
	hs := Headlines(f)
	if len(hs) != 1 {
		t.Fatalf("%d headlines", len(hs))
	}
	h := hs[0]
	if h.Lost != 4 || h.Duplicates != 1 || h.InvalidRuns != 1 {
		t.Errorf("lost %d dup %d invalid runs %d; want 4, 1, 1 (the interrupted run is not counted)", h.Lost, h.Duplicates, h.InvalidRuns)
	}
	if h.Steady == nil || h.Steady.HTTPLatencyMS.P99 != 3 {
		t.Errorf("the valid steady run must give the timing")
	}
	row := SummaryTable(f).Rows[0]
	if !strings.HasSuffix(row[4].Text, "*") || !strings.HasSuffix(row[5].Text, "*") {
		t.Errorf("lost %q and duplicates %q must be marked as including an invalid run", row[4].Text, row[5].Text)
	}
	rt := RunsTable(f)
	var invalid, interrupted []Cell
	for _, r := range rt.Rows {
		switch {
		case strings.Contains(r[0].Text, "(invalid)"):
			invalid = r
		case strings.Contains(r[0].Text, "(interrupted)"):
			interrupted = r
		}
	}
	if invalid == nil || invalid[7].Text != "4" || invalid[10].Text != "invalid" {
		t.Errorf("invalid run row %v: want its loss (4) shown and its timing marked invalid", texts(invalid))
	}
	if interrupted == nil || !strings.Contains(interrupted[7].Text, "50 in flight") {
		t.Errorf("interrupted run row %v: want its in-flight jobs shown, not a loss", texts(interrupted))
	}
}

func TestRecoveryTextSaysBound(t *testing.T) {
	v := 1.5
	crash := []results.Fault{{Kind: "kill-worker", Injected: true}}
	cases := []struct {
		r    results.Run
		want string
	}{
		{results.Run{Scenario: "worker-crash", Faults: crash, RecoveryS: &v}, "1.5"},
		{results.Run{Scenario: "worker-crash", Faults: crash, RecoveryBoundS: 10}, "> 10"},
		{results.Run{Scenario: "worker-crash", Faults: crash}, "never"},
		{results.Run{Scenario: "steady"}, "–"},
	}
	for _, c := range cases {
		if got := recoveryText(c.r); got != c.want {
			t.Errorf("%+v: got %q want %q", c.r, got, c.want)
		}
	}
}

func texts(row []Cell) []string {
	var out []string
	for _, c := range row {
		out = append(out, c.Text)
	}
	return out
}
