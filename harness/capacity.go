package harness

import (
	"time"

	"github.com/offload/offload/harness/rules"
)

// The capacity scenario asks how much load a strategy takes before it falls
// over. Its rules (when a step passes, what broke, the figures a ladder
// gives) are arithmetic in package rules; this file is the ladder's
// configuration, and ladder.go runs it against real processes.

// Ladder is the capacity scenario's open-loop rate steps, chosen by a
// Climb: from Start by Factor up to Max, ending after Failures consecutive
// failing steps, then bisected to within Precision. Each step is long
// enough for MinRequests measured requests after its warm-up, within
// [MinStep, MaxStep]: the low rates that let every strategy pass its first
// step would otherwise take a minute each.
type Ladder struct {
	Start, Factor, Max float64
	Failures           int     // consecutive failing steps that end the climb
	Precision          float64 // the knee is bisected to within this share
	MinRequests        int
	MinStep            time.Duration // a step's measured part is never shorter
	MaxStep            time.Duration // nor longer (0: no limit)
	Warmup             time.Duration // each step's discarded lead-in, at the step's rate
	FirstWarmup        time.Duration // the first step's, long enough for a self-sizing worker to grow
	// Settle bounds the wait, after a step, for the jobs it accepted to be
	// delivered before the next step starts (longer while deliveries are
	// still arriving, up to twice as long).
	Settle time.Duration
}

// Climb is a fresh climb over the ladder's rates.
func (l Ladder) Climb() *rules.Climb {
	return &rules.Climb{Floor: l.Start, Factor: l.Factor, Max: l.Max, Failures: max(1, l.Failures), Precision: l.Precision}
}

// StepLength is the measured part of a step at rate.
func (l Ladder) StepLength(rate float64) time.Duration {
	need := time.Duration(float64(l.MinRequests) / rate * float64(time.Second))
	d := max(l.MinStep, need.Round(time.Millisecond))
	if l.MaxStep > 0 {
		d = min(d, max(l.MinStep, l.MaxStep))
	}
	return d
}

// The capacity rules live in package rules; these are their names here.
type (
	StepRule = rules.StepRule
	Evidence = rules.Evidence
)

// Quiet is how long no delivery may arrive before a job still owed counts
// as lost (rules.Quiet).
const Quiet = rules.Quiet

// What a step can be blamed on (rules.Blame).
const (
	LimitGenerator = rules.LimitGenerator
	LimitWebCPU    = rules.LimitWebCPU
	LimitLoopLag   = rules.LimitLoopLag
	LimitBroker    = rules.LimitBroker
	LimitWorkers   = rules.LimitWorkers
	LimitSMTP      = rules.LimitSMTP
	LimitMachine   = rules.LimitMachine
	LimitUnknown   = rules.LimitUnknown
	LimitExternal  = rules.LimitExternal
)

// DefaultRule is the step rule with the default SLO (rules.DefaultRule).
func DefaultRule() StepRule { return rules.DefaultRule() }

func fmtMS(v float64) string   { return rules.FormatMS(v) }
func fmtRate(v float64) string { return rules.FormatRate(v) }
