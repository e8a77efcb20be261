package harness

import (
	"context"
	"fmt"

	"github.com/offload/offload/results"
)

// The scale scenario asks whether more workers deliver more. It can only
// answer when one worker cannot keep up: the load is sized from one
// worker's delivery capacity, measured by the capacity ladder of the same
// bench (or, when that was not run, by a ladder run for the purpose).

// OneWorkerRate is one worker's delivery capacity read off a ladder: the
// deliveries per second at the first step whose deliveries fell behind, or,
// when none did, the highest rate they kept up with (a lower bound, and
// false).
func OneWorkerRate(c results.Capacity) (float64, bool) {
	for _, s := range c.Judged() {
		if s.DeliveryJudged && !s.DeliveryOK && s.DeliveredRPS > 0 {
			return s.DeliveredRPS, true
		}
	}
	if c.MaxDeliveryRPS != nil && *c.MaxDeliveryRPS > 0 {
		return *c.MaxDeliveryRPS, false
	}
	return 0, false
}

// scaleLoad sets a scale plan's rate to ScaleLoad times one worker's
// delivery capacity, capped below the accept capacity so the web side does
// not become the limit instead. It returns the plan and a note saying
// where the rate came from.
func (b *Bench) scaleLoad(ctx context.Context, p Plan) (Plan, []string) {
	c, ok := b.capacityFor(p.Strategy, p.Variant.Name)
	var notes []string
	if !ok {
		sc, err := b.Timing.Build(Capacity)
		if err != nil {
			return p, []string{"scale: " + err.Error()}
		}
		// A distinct index keeps the calibration's job ids and log apart.
		cal := Plan{Index: 1000 + p.Index, Total: p.Total, Strategy: p.Strategy, Scenario: sc, Variant: p.Variant,
			Loop: "node", Workers: 1, Concurrency: p.Concurrency}
		b.logf("[%d/%d] %s: no capacity ladder in this bench; running one to size the load", p.Index, p.Total, p.label())
		b.execute(ctx, cal)
		if c, ok = b.capacityFor(p.Strategy, p.Variant.Name); ok {
			notes = append(notes, "load sized by a capacity ladder run for this scenario (the bench had none)")
		}
	}
	one, saturated := OneWorkerRate(c)
	if !ok || one <= 0 {
		return p, append(notes, fmt.Sprintf("no measured delivery capacity: offered the preset %s jobs/s", fmtRate(p.Scenario.Rate)))
	}
	rate := b.Timing.ScaleLoad * one
	capped := ""
	if c.MaxAcceptRPS > 0 && rate > 0.8*c.MaxAcceptRPS {
		rate, capped = 0.8*c.MaxAcceptRPS, fmt.Sprintf(", capped at 80%% of the accept capacity (%s req/s)", fmtRate(c.MaxAcceptRPS))
	}
	rate = float64(int(rate + 0.5))
	p.Scenario.Rate, p.Scenario.Load = rate, Constant(rate)
	basis := "deliveries at the step where they fell behind"
	if !saturated {
		basis = "the highest step whose deliveries kept up, a lower bound"
	}
	notes = append(notes, fmt.Sprintf("offered %s jobs/s: %g× one worker's delivery capacity of %s jobs/s (%s, capacity ladder)%s",
		fmtRate(rate), b.Timing.ScaleLoad, fmtRate(one), basis, capped))
	return p, notes
}
