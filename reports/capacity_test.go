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
