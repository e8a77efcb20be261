package results

import (
	"cmp"
	"slices"
)

// Capacity is the capacity scenario's answer for one strategy: an open-loop
// ladder of rising rates, each step judged on its own, and the two figures
// read off it.
type Capacity struct {
	SLOMS float64        `json:"slo_ms"` // a step's HTTP p99 from due must not exceed this
	Steps []CapacityStep `json:"steps"`
	// MaxAcceptRPS is the highest offered rate whose answers kept up (at
	// least 95 % accepted, p99 within the SLO); 0 when even the first step
	// failed. MaxDeliveryRPS is the highest whose deliveries kept up
	// (backlog not growing, nothing lost), nil when deliveries are not
	// part of the strategy (the baseline only enqueues).
	MaxAcceptRPS   float64  `json:"max_accept_rps"`
	MaxDeliveryRPS *float64 `json:"max_delivery_rps"`
	// LimitedBy names what broke first at the failing step just above
	// the accept figure (else the delivery figure): web CPU, loop lag,
	// broker, workers, SMTP concurrency, generator, machine CPU (every
	// core busy, no one process saturated), unknown (with its evidence) or
	// "external, not observed"; "" when no step failed (the ladder ran out
	// of rates).
	LimitedBy string `json:"limited_by"`
	// The same for each figure, with the evidence it was named from.
	AcceptLimitedBy   string `json:"accept_limited_by,omitempty"`
	AcceptEvidence    string `json:"accept_evidence,omitempty"`
	DeliveryLimitedBy string `json:"delivery_limited_by,omitempty"`
	DeliveryEvidence  string `json:"delivery_evidence,omitempty"`
	// SaturatedDeliveryRPS is the deliveries the sink saw per second at the
	// busiest judged step whose deliveries fell behind: what the senders
	// deliver flat out. SaturatedInFlight is the messages in flight at the
	// sink there, and SaturatedServiceMS their quotient (Little's law:
	// in flight ÷ rate), the time one delivery takes; "4 in flight × 17 ms"
	// reads off these two. 0 when no judged step fell behind.
	SaturatedDeliveryRPS float64 `json:"saturated_delivery_rps,omitempty"`
	SaturatedInFlight    float64 `json:"saturated_in_flight,omitempty"`
	SaturatedServiceMS   float64 `json:"saturated_service_ms,omitempty"`
	// Ceiling is set when the ladder ended without any step failing: the
	// figures are then lower bounds.
	Ceiling bool `json:"ceiling,omitempty"`
	// MinRequests is what each step's measured phase was sized for (the
	// lowest rates run shorter: a step lasts at most the ladder's MaxStep).
	MinRequests int `json:"min_requests"`
}

// CapacityStep is one rate of the ladder, measured after its warm-up.
type CapacityStep struct {
	OfferedRPS   float64 `json:"offered_rps"`
	AchievedRPS  float64 `json:"achieved_rps"`  // accepted (2xx) answers per second
	DeliveredRPS float64 `json:"delivered_rps"` // first deliveries the sink saw per second during the step
	DurationS    float64 `json:"duration_s"`    // the measured part of the step
	Requests     int64   `json:"requests"`      // measured requests

	HTTPLatencyMS Percentiles `json:"http_latency_ms"` // due -> answer; failures at their done - due
	E2ELatencyMS  Percentiles `json:"e2e_latency_ms"`  // due -> first delivery
	// BacklogGrowthPerS is the least-squares slope of accepted - delivered
	// across the step, in jobs per second.
	BacklogGrowthPerS float64 `json:"backlog_growth_per_s"`
	Lost              int64   `json:"lost"`
	// Undelivered are accepted jobs not delivered when the ladder ended
	// while deliveries were still arriving: late, not lost.
	Undelivered int64 `json:"undelivered,omitempty"`
	Failed      int64 `json:"failed"` // requests answered non-2xx or not at all

	CPUMSPerJob float64 `json:"cpu_ms_per_job"` // the strategy's processes, per accepted job
	RSSMB       float64 `json:"rss_mb"`         // their peak resident memory, summed
	// RSSKBPerJob is how much that peak grew during the step, per job
	// accepted in it: the memory a job costs while it waits.
	RSSKBPerJob float64 `json:"rss_kb_per_job"`

	// The evidence the step's limit is named from.
	CPUCores       map[string]float64 `json:"cpu_cores"` // role -> cores busy on average; "bench" is the generator and mail sink
	LagP99MS       float64            `json:"lag_p99_ms"`
	LagMaxMS       float64            `json:"lag_max_ms"`
	SendDelayP99MS float64            `json:"send_delay_p99_ms"`
	SinkInFlight   float64            `json:"sink_in_flight"` // messages in an SMTP transaction at the sink, on average

	AcceptOK       bool   `json:"accept_ok"`   // answers kept up
	DeliveryOK     bool   `json:"delivery_ok"` // deliveries kept up (true when not judged)
	Passed         bool   `json:"passed"`
	FailedBecause  string `json:"failed_because"`
	LimitedBy      string `json:"limited_by,omitempty"`
	DeliveryJudged bool   `json:"delivery_judged"` // false two failures past the delivery knee, and for the baseline
	// Retried: the generator fell behind at this step and at nothing
	// else, and the ladder offered the same rate again; the figures read
	// the step that replaced it, not this one.
	Retried bool `json:"retried,omitempty"`
	// What each side's failure at this step was blamed on, with the
	// numbers it was named from.
	AcceptLimitedBy   string `json:"accept_limited_by,omitempty"`
	AcceptEvidence    string `json:"accept_evidence,omitempty"`
	DeliveryLimitedBy string `json:"delivery_limited_by,omitempty"`
	DeliveryEvidence  string `json:"delivery_evidence,omitempty"`
	// SendDelayBoundMS is the validity rule's bound for this step: the
	// larger of the floor and a tenth of its HTTP p99.
	SendDelayBoundMS float64 `json:"send_delay_bound_ms,omitempty"`
	// StealMS and GCPauseMaxMS are the step's, as for a run; a step the
	// generator failed names its likely cause in failed_because.
	StealMS      float64 `json:"steal_ms"`
	GCPauseMaxMS float64 `json:"gc_pause_max_ms"`
}

// Judged is the steps the figures are read from, lowest rate first: every
// step but those offered again because the generator fell behind
// (Retried). The ladder ran them in its own order (it bisects after it
// climbs); Steps keeps that order.
func (c *Capacity) Judged() []CapacityStep {
	var out []CapacityStep
	for _, s := range c.Steps {
		if !s.Retried {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b CapacityStep) int { return cmp.Compare(a.OfferedRPS, b.OfferedRPS) })
	return out
}
