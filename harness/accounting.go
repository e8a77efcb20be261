package harness

import (
	"fmt"
	"runtime"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/harness/rules"
	"github.com/offload/offload/internal/latency"
	"github.com/offload/offload/results"
)

// account turns the measured phase into the run's numbers and the raw
// histograms they were read from.
func (r *run) account(out results.Run, m measured, deliveries map[string]Delivery, drainStart time.Time) (results.Run, map[string]*hdrhistogram.Histogram) {
	b, sc := r.b, r.plan.Scenario
	r.setPhase("accounting", 0)
	rec := Record{
		Start: m.start, End: m.end, DrainEnd: time.Now(),
		Requests: m.jobs.Outcomes(), Probes: m.probes.Outcomes(),
		Deliveries: deliveries, Faults: m.faults,
		RecoveryWindow: b.Timing.RecoveryWindow,
		Interrupted:    m.interrupted,
		RecoveryBound:  b.Timing.recoveryBound(),
	}
	if m.lag != nil {
		for _, s := range m.lag.Samples {
			rec.Lag = append(rec.Lag, LagSample{At: s.At, MaxMS: s.MaxMS})
		}
	}
	a := Account(rec)
	acc := a.Run
	acc.Strategy, acc.Scenario, acc.Loop, acc.Variant, acc.Workers = out.Strategy, out.Scenario, out.Loop, out.Variant, out.Workers
	acc.Style, acc.Repeat = out.Style, out.Repeat
	acc.OfferedRPS = out.OfferedRPS
	acc.DurationS = round3(m.end.Sub(m.start).Seconds())
	acc.DrainS = round3(rec.DrainEnd.Sub(drainStart).Seconds())
	acc.Notes = out.Notes
	acc.Processes = []results.ProcessUse{}
	if r.env != nil {
		acc.Processes = r.sampler.Use()
	}
	for _, p := range acc.Processes {
		acc.CPUS += p.CPUS
		acc.PeakRSSMB = max(acc.PeakRSSMB, p.PeakRSSMB)
	}
	acc.CPUS = round3(acc.CPUS)
	if acc.Delivered > 0 {
		acc.CPUPer1kS = round3(acc.CPUS / float64(acc.Delivered) * 1000)
	}
	if m.lag != nil && m.lag.Loop != "" {
		acc.Loop = m.lag.Loop // what the web says it runs, not what it was asked to
	}
	if m.lag != nil {
		acc.LagMS = results.Lag{P50: m.lag.P50, P90: m.lag.P90, P99: m.lag.P99, Max: m.lag.Max, Blocks: m.lag.Blocks}
		acc.SchedLatencyMS = results.Percentiles{P50: m.lag.Sched.P50, P90: m.lag.Sched.P90, P99: m.lag.Sched.P99, P999: m.lag.Sched.P999, Max: m.lag.Sched.Max}
		if sc.Fault != nil && sc.Fault.Kind == FaultKillWeb {
			acc.Notes = append(acc.Notes, "lag covers the restarted web process only: the killed one took its monitor with it")
		}
	} else if m.lagErr != nil {
		acc.Notes = append(acc.Notes, "no loop lag: "+m.lagErr.Error())
	}
	delays := sendDelays(rec.Requests)
	acc.SendDelayMS = percentiles(delays)
	acc.Fired = int64(m.pace.Fired)
	if m.pace.Note != "" {
		acc.Notes = append(acc.Notes, m.pace.Note)
	}
	httpP99 := time.Duration(acc.HTTPLatencyMS.P99 * float64(time.Millisecond))
	acc.SendDelayBoundMS = ms(rules.Bound(httpP99, b.Timing.sendDelayBound()))
	own := sendDelays(ownPace(rec.Requests))
	acc.Invalid = Validity(m.pace.Fired, len(rec.Requests), own, httpP99, b.Timing.sendDelayBound())
	acc.StealMS, acc.GCPauseMaxMS = m.host.StealMS, m.host.GCPauseMaxMS
	if acc.Invalid != "" && own.TotalCount() > 0 {
		acc.InvalidCause = m.host.Cause(m.end.Sub(m.start), runtime.NumCPU(), latency.P99(own))
		acc.Invalid += "; likely cause: " + acc.InvalidCause
	}
	if m.interrupted {
		acc.Interrupted = true
		acc.Invalid = "interrupted (Ctrl-C): the numbers cover what was measured; jobs still in flight are not counted lost"
	}
	acc.GeneratorCPUS = round3((cpuTime() - m.cpu0).Seconds())
	acc.GeneratorCPUShare = cpuShare(cpuTime()-m.cpu0, time.Since(m.start))
	if !r.expectMail() && len(deliveries) == 0 {
		acc.DeliveryNA = TargetDeliveryNA(b.Sink.Addr())
		acc.Delivered, acc.Lost, acc.Duplicates, acc.InFlight = 0, 0, 0, 0
		acc.E2ELatencyMS = results.Percentiles{}
		acc.RecoveryS, acc.RecoveryNote = nil, "deliveries not accounted"
		a.Histograms[results.HistE2E] = nil
		for i := range acc.Timeseries {
			acc.Timeseries[i].Backlog = 0 // unknown, not growing
		}
	} else if b.Target != "" {
		acc.Notes = append(acc.Notes, "external target: delivered and lost count only mail that reached this bench's sink at "+b.Sink.Addr())
	}
	hs := a.Histograms
	hs[results.HistSendDelay] = delays
	if m.remoteErr != nil {
		acc.Invalid = "generator processes failed: " + m.remoteErr.Error()
	}
	if m.remote != nil {
		// The raw histograms are the generators' own, merged from their
		// interval logs; the outcomes they wrote must agree with them.
		acc.Generators = b.Generators
		acc.GeneratorCPUS = round3(m.remote.CPUS)
		acc.GeneratorCPUShare = cpuShare(time.Duration(m.remote.CPUS*float64(time.Second)), m.end.Sub(m.start))
		if got, want := m.remote.HTTP.TotalCount(), hs[results.HistHTTP].TotalCount(); got != want {
			acc.Invalid = fmt.Sprintf("the generators' interval logs hold %d HTTP latencies, their outcomes %d", got, want)
		}
		hs[results.HistHTTP], hs[results.HistSendDelay] = m.remote.HTTP, m.remote.SendDelay
		acc.Notes = append(acc.Notes, fmt.Sprintf("load from %d generator processes, histograms merged from their interval logs (per generator: %v)", b.Generators, m.remote.Counts))
	}
	b.logf("[%d/%d] %s: sent %d accepted %d delivered %d lost %d dup %d http p99 %.1fms e2e p99 %.1fms lag max %.1fms%s",
		r.plan.Index, r.plan.Total, r.plan.label(), acc.Sent, acc.Accepted, acc.Delivered, acc.Lost, acc.Duplicates,
		acc.HTTPLatencyMS.P99, acc.E2ELatencyMS.P99, acc.LagMS.Max, invalidSuffix(acc.Invalid))
	return acc, hs
}

func invalidSuffix(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" INVALID: %s", s)
}
