package harness

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// An external target (--target) is a server the harness did not start and
// whose mail it does not route. Its deliveries can be accounted only when
// the user points its mail at the bench's sink; until one arrives, the
// harness must not read silence as loss.

// TargetDeliveryNA is the one line said, and recorded, when an external
// target's jobs never reached the bench's sink.
func TargetDeliveryNA(sinkAddr string) string {
	return fmt.Sprintf("the target does not deliver to this bench's sink (smtp://%s): measuring the HTTP side only; delivered, lost and e2e are not accounted", sinkAddr)
}

// targetWarmup is the warm-up against an external target: the scenario's
// load for exactly the asked warm-up, no wait for a pipeline the harness
// cannot see. It records whether any warm-up job reached the sink
// (r.targetDelivers), and says so when none did.
func (r *run) targetWarmup(ctx context.Context, prefix string) {
	b := r.b
	var c Collector
	s := Scenario{Name: "warmup", Rate: r.plan.Scenario.Rate}
	start := time.Now()
	Fire(ctx, b.clock(), start, &Paced{Rate: Constant(s.Rate), Duration: b.Timing.Warmup}, func(seq int, due time.Time) {
		r.sender.Post(ctx, s.Request(prefix, seq, due), &c)
	})
	// Answers still owed are waited for only up to the end of the warm-up
	// asked for; the measured phase may start with a few in flight.
	wctx, cancel := context.WithDeadline(ctx, start.Add(b.Timing.Warmup))
	defer cancel()
	c.Wait(wctx)
	if r.targetDelivers = r.sawDelivery(prefix); !r.targetDelivers {
		b.logf("[%d/%d] %s: %s", r.plan.Index, r.plan.Total, r.plan.label(), TargetDeliveryNA(b.Sink.Addr()))
	}
}

// sawDelivery reports whether the sink has any delivery for ids with prefix.
func (r *run) sawDelivery(prefix string) bool {
	for _, d := range r.b.Sink.Deliveries() {
		if strings.HasPrefix(d.ID, prefix) {
			return true
		}
	}
	return false
}

// targets are the processes whose CPU a run reads: the ones it started, or
// an external target's --target-pid (none: the run is not observed).
func (r *run) targets() []Target {
	if r.env != nil {
		return r.env.Targets()
	}
	return TargetRoles("/proc", r.b.TargetPIDs)
}

// TargetRoles names an external target's processes for blame: a
// redis-server is a broker (redis-1, redis-2, ...), the first other process
// is the web, and the rest are counted by PID in the machine's total only.
func TargetRoles(procRoot string, pids []int) []Target {
	var out []Target
	brokers := 0
	web := false
	for _, pid := range pids {
		role := fmt.Sprintf("pid-%d", pid)
		st, err := ReadProc(procRoot, pid)
		switch {
		case err == nil && strings.Contains(st.Cmdline, "redis-server"):
			brokers++
			role = fmt.Sprintf("redis-%d", brokers)
		case !web:
			role, web = "web", true
		}
		out = append(out, Target{Role: role, PID: pid})
	}
	return out
}
