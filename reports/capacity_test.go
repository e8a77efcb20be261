package reports

import (
	"testing"

	"github.com/offload/offload/results"
)

// The delivery column never reads 0 for a strategy that delivers: when the
// first step already outran the deliveries, it gives that step as an upper
// bound and the saturated rate the deliveries reached.
func TestDeliveryFigure(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	steps := []results.CapacityStep{{OfferedRPS: 500, DeliveredRPS: 265}, {OfferedRPS: 707, DeliveredRPS: 270}}
	for _, tc := range []struct {
		name string
		c    results.Capacity
		want string
	}{
		{"not delivered (baseline)", results.Capacity{Steps: steps}, "n/a"},
		{"fell behind at the first step", results.Capacity{Steps: steps, MaxDeliveryRPS: f(0), DeliveryLimitedBy: "SMTP concurrency"}, "< 500 (peak 270)"},
		{"never judged", results.Capacity{Steps: steps, MaxDeliveryRPS: f(0)}, "–"},
		{"kept up at every step", results.Capacity{Steps: steps, MaxDeliveryRPS: f(707)}, "≥ 707"},
		{"broke later", results.Capacity{Steps: steps, MaxDeliveryRPS: f(500), DeliveryLimitedBy: "workers"}, "500"},
	} {
		if got := deliveryFigure(&tc.c); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// With repeats the table has one row per ladder, the accept figure as
// median [min–max], and the baseline ratio from the baseline's median.
func TestCapacityTableFoldsRepeats(t *testing.T) {
	ladder := func(strategy string, repeat int, accept float64) results.Run {
		return results.Run{Strategy: strategy, Scenario: "capacity", Loop: "node", Repeat: repeat,
			Capacity: &results.Capacity{MaxAcceptRPS: accept, AcceptLimitedBy: "web CPU",
				Steps: []results.CapacityStep{{OfferedRPS: accept, AcceptOK: true}}}}
	}
	f := &results.File{Runs: []results.Run{
		ladder(BaselineStrategy, 0, 8000), ladder("queue", 0, 2000),
		ladder(BaselineStrategy, 1, 4000), ladder("queue", 1, 2828),
		ladder(BaselineStrategy, 2, 5657), ladder("queue", 2, 1414),
	}}
	tab := CapacityTable(f)
	if len(tab.Rows) != 2 {
		t.Fatalf("%d rows, want one per ladder: %v", len(tab.Rows), tab.Rows)
	}
	q := tab.Rows[1]
	if q[1].Text != "2,000 [1,414–2,828]" || q[2].Text != "0.35×" {
		t.Errorf("queue row %q %q, want 2,000 [1,414–2,828] and 0.35× (2,000 over the baseline's median 5,657)", q[1].Text, q[2].Text)
	}
}
