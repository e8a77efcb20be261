package rules

import (
	"cmp"
	"time"

	"github.com/offload/offload/internal/latency"
	"github.com/offload/offload/results"
)

// Summarize reads the figures off judged steps, in the order they ran: the
// highest offered rate whose answers kept up, the highest whose deliveries
// (and answers) kept up (nil when no step judged deliveries), and the
// deliveries the sink saw at the busiest judged step that fell behind,
// with its messages in flight and, by Little's law, the time each one
// took. A failure below a later pass does not lower a figure: the climb
// treats it as noise, and so does the summary.
func Summarize(slo time.Duration, minRequests int, steps []results.CapacityStep) results.Capacity {
	c := results.Capacity{SLOMS: float64(slo) / float64(time.Millisecond), Steps: steps, MinRequests: minRequests}
	var delivery *float64
	judged := false
	for _, s := range steps {
		if s.Retried {
			continue // offered again: the step that replaced it counts
		}
		if s.AcceptOK {
			c.MaxAcceptRPS = max(c.MaxAcceptRPS, s.OfferedRPS)
		}
		if !s.DeliveryJudged {
			continue
		}
		judged = true
		if s.DeliveryOK && s.AcceptOK && (delivery == nil || s.OfferedRPS > *delivery) {
			v := s.OfferedRPS
			delivery = &v
		}
		if !s.DeliveryOK && s.DeliveredRPS > c.SaturatedDeliveryRPS {
			c.SaturatedDeliveryRPS, c.SaturatedInFlight = s.DeliveredRPS, s.SinkInFlight
		}
	}
	if c.SaturatedDeliveryRPS > 0 {
		c.SaturatedServiceMS = latency.Round3(c.SaturatedInFlight / c.SaturatedDeliveryRPS * 1000)
	}
	if judged {
		if delivery == nil {
			zero := 0.0
			delivery = &zero
		}
		c.MaxDeliveryRPS = delivery
	}
	// What broke first: the failing step just above each figure.
	if at := failingAbove(steps, c.MaxAcceptRPS, func(s results.CapacityStep) bool { return !s.AcceptOK }); at != nil {
		c.AcceptLimitedBy, c.AcceptEvidence = at.AcceptLimitedBy, at.AcceptEvidence
	}
	if delivery != nil {
		if at := failingAbove(steps, *delivery, func(s results.CapacityStep) bool { return s.DeliveryJudged && !s.DeliveryOK }); at != nil {
			c.DeliveryLimitedBy, c.DeliveryEvidence = at.DeliveryLimitedBy, at.DeliveryEvidence
		}
	}
	// The run's one limit is the one that broke at the lower rate.
	c.LimitedBy = cmp.Or(c.AcceptLimitedBy, c.DeliveryLimitedBy)
	if c.DeliveryLimitedBy != "" && *delivery < c.MaxAcceptRPS {
		c.LimitedBy = c.DeliveryLimitedBy
	}
	c.Ceiling = c.LimitedBy == ""
	return c
}

// failingAbove is the lowest step above rate that failed (nil: none).
func failingAbove(steps []results.CapacityStep, rate float64, failed func(results.CapacityStep) bool) *results.CapacityStep {
	var at *results.CapacityStep
	for i := range steps {
		s := &steps[i]
		if !s.Retried && failed(*s) && s.OfferedRPS > rate && (at == nil || s.OfferedRPS < at.OfferedRPS) {
			at = s
		}
	}
	return at
}
