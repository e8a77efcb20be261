package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/offload/offload/results"
)

// The thresholds every verdict states. They are the report's opinions, so
// they live in one place and the report prints them.
const (
	// FastAnswerMS: an HTTP p99 under this (steady scenario) counts as
	// answering without making the client wait for the job.
	FastAnswerMS = 10.0
	// RecoveryThresholdS: back to normal service this soon after a repair
	// counts as recovering well.
	RecoveryThresholdS = 5.0
	// ScaleGainMin: delivered throughput with the most workers over one
	// worker must reach this factor to count as scaling.
	ScaleGainMin = 1.5
)

// Thresholds lists the rules verdicts are judged by, for the report.
func Thresholds() []string {
	return []string{
		fmt.Sprintf("Answers fast: HTTP p99 in the steady scenario below %s ms, timed from when each request was due.", num(FastAnswerMS)),
		fmt.Sprintf("Keeps the loop free: web loop lag max below %s ms under the cpu scenario (node loop).", num(LagThresholdMS)),
		"Loses nothing: any accepted job never delivered by the end of the drain is a loss; requests the server refused are not (the client knew).",
		"Delivers once: any delivery beyond the first of a job is a duplicate.",
		fmt.Sprintf("Recovers: normal service again within %s s of the repair.", num(RecoveryThresholdS)),
		fmt.Sprintf("Scales: deliveries per second with the most workers at least %s× those of one worker, under a load one worker cannot carry (not judged when it could).", num(ScaleGainMin)),
		fmt.Sprintf("Cheap to accept: the capacity ladder's accept figure at least %s× the baseline's (a bare handler answering 202 after one LPUSH).", num(AcceptShareMin)),
		"Requests that failed while the web process itself was down count against no strategy.",
	}
}

// Verdict is one strategy in the talk's format: why it is better, why it is
// still a bad idea, each sentence carrying its measured number.
type Verdict struct {
	Series      Series
	Better      []string
	Bad         []string
	NotMeasured []string
	// Knees are where the capacity ladder broke it, with the numbers and
	// the cause: neither better nor worse, the load it takes.
	Knees []string
}

// Verdicts judges every series, in talk order.
func Verdicts(f *results.File) []Verdict {
	var out []Verdict
	for _, s := range allSeries(f) {
		v := Verdict{Series: s}
		runs := seriesRuns(f, s)
		v.judgeCapacity(f, runs)
		if s.Strategy == BaselineStrategy {
			out = append(out, v) // the reference row has nothing else to judge
			continue
		}
		v.judgeSteady(runs)
		v.judgeLag(runs)
		v.judgeFaults(runs)
		v.judgeDuplicates(runs)
		v.judgeScale(runs)
		v.listUnmeasured(runs)
		out = append(out, v)
	}
	return out
}

// seriesRuns lists a series' runs in scenario order.
func seriesRuns(f *results.File, s Series) []results.Run {
	var out []results.Run
	for _, r := range f.Runs {
		if seriesOf(r) == s {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b results.Run) int {
		if c := rank(scenarioOrder)(a.Scenario, b.Scenario); c != 0 {
			return c
		}
		if c := rank([]string{"node", "go", "threads"})(a.Loop, b.Loop); c != 0 {
			return c
		}
		return a.Workers - b.Workers
	})
	return out
}

// listUnmeasured names the runs without numbers, once per scenario and reason.
func (v *Verdict) listUnmeasured(runs []results.Run) {
	for _, r := range runs {
		var line string
		switch {
		case r.NAReason != "":
			line = scenarioName(r) + ": " + r.NAReason + "."
		case r.Invalid != "":
			line = runName(r) + ": measured but not reported, " + r.Invalid + "."
		default:
			continue
		}
		if !slices.Contains(v.NotMeasured, line) {
			v.NotMeasured = append(v.NotMeasured, line)
		}
	}
}

// scenarioName is the scenario with its loop when that is not the default.
func scenarioName(r results.Run) string {
	if r.Loop != "" && r.Loop != "node" {
		return r.Scenario + " (--loop " + r.Loop + ")"
	}
	return r.Scenario
}

func runName(r results.Run) string {
	name := scenarioName(r)
	switch {
	case r.Scenario != "scale":
	case r.Workers == 1:
		name += " with 1 worker"
	case r.Workers > 1:
		name += fmt.Sprintf(" with %d workers", r.Workers)
	}
	return name
}

func pick(runs []results.Run, key string) (results.Run, bool) {
	for _, r := range runs {
		if scenarioKey(r) == key && measured(r) {
			return r, true
		}
	}
	return results.Run{}, false
}

func (v *Verdict) judgeSteady(runs []results.Run) {
	r, ok := pick(runs, "steady")
	if !ok || r.HTTPLatencyMS.Count == 0 {
		return
	}
	p99 := r.HTTPLatencyMS.P99
	load := fmt.Sprintf("at %s req/s in the steady scenario (threshold: %s ms)", num(r.OfferedRPS), num(FastAnswerMS))
	if p99 < FastAnswerMS {
		v.Better = append(v.Better, fmt.Sprintf("Answers fast: p99 %s ms from when the request was due, %s.", num(p99), load))
	} else {
		v.Bad = append(v.Bad, fmt.Sprintf("Slow for the client: p99 %s ms from when the request was due, %s.", num(p99), load))
	}
}

func (v *Verdict) judgeLag(runs []results.Run) {
	r, ok := pick(runs, "cpu")
	if !ok {
		return
	}
	lag := r.LagMS.Max
	if lag < LagThresholdMS {
		v.Better = append(v.Better, fmt.Sprintf("Keeps the web loop free: lag max %s ms under the cpu scenario (threshold: %s ms).",
			num(lag), num(LagThresholdMS)))
		return
	}
	v.Bad = append(v.Bad, fmt.Sprintf("Blocks the web loop: lag max %s ms under the cpu scenario (threshold: %s ms); every other client waits behind the job.",
		num(lag), num(LagThresholdMS)))
}

// faultPhrase says when something happened: "when the worker was killed".
func faultPhrase(r results.Run) string {
	kind := ""
	if len(r.Faults) > 0 {
		kind = r.Faults[0].Kind
	}
	switch kind {
	case "kill-worker":
		return "when the worker was killed"
	case "kill-web":
		return "when the web process was killed"
	case "restart-redis":
		return "when Redis restarted"
	case "mail-outage":
		return "during the mail outage"
	case "partition":
		return "when the web process and a worker were cut off from Redis"
	}
	return inScenario(r)
}

// inScenario is "in the cpu scenario", "with 2 workers in the scale scenario".
func inScenario(r results.Run) string {
	s := "in the " + scenarioName(r) + " scenario"
	switch {
	case r.Scenario != "scale":
	case r.Workers == 1:
		s = "with 1 worker " + s
	case r.Workers > 1:
		s = fmt.Sprintf("with %d workers %s", r.Workers, s)
	}
	return s
}

func (v *Verdict) judgeFaults(runs []results.Run) {
	var kept []string
	var worst *results.Run
	for _, r := range runs {
		if !measured(r) || !isFault(r) {
			continue
		}
		phrase := faultPhrase(r)
		if r.Lost == 0 {
			kept = append(kept, fmt.Sprintf("%s %s", count(r.Accepted), phrase))
		} else {
			v.Bad = append(v.Bad, fmt.Sprintf("Lost %s of %s accepted jobs (%s) %s.",
				count(r.Lost), count(r.Accepted), percent(r.Lost, r.Accepted), phrase))
		}
		if refused := r.Rejected + r.TransportErrors; refused > 0 && !killsWeb(r) {
			v.Bad = append(v.Bad, fmt.Sprintf("Refused %s of %s requests (%s) %s; the clients were told (%s).",
				count(refused), count(r.Sent), percent(refused, r.Sent), phrase, failureCodes(r)))
		}
		switch {
		case r.RecoveryS == nil:
			note := ""
			if r.RecoveryNote != "" {
				note = ": " + r.RecoveryNote
			}
			v.Bad = append(v.Bad, fmt.Sprintf("Had not recovered by the end of the run, %s%s.", phrase, note))
		case *r.RecoveryS > RecoveryThresholdS:
			v.Bad = append(v.Bad, fmt.Sprintf("Took %s s to recover %s (threshold: %s s).",
				num(*r.RecoveryS), phrase, num(RecoveryThresholdS)))
		case worst == nil || *r.RecoveryS > *worst.RecoveryS:
			worst = &r
		}
	}
	if len(kept) > 0 {
		v.Better = append(v.Better, "Lost none of the jobs it accepted: "+joinAnd(kept)+".")
	}
	if worst != nil {
		v.Better = append(v.Better, fmt.Sprintf("Recovers: at worst %s s to normal service %s (threshold: %s s).",
			num(*worst.RecoveryS), faultPhrase(*worst), num(RecoveryThresholdS)))
	}
}

func killsWeb(r results.Run) bool {
	return slices.ContainsFunc(r.Faults, func(f results.Fault) bool { return f.Kind == "kill-web" })
}

// failureCodes lists the non-2xx statuses a run got: "503", "502 and connection errors".
func failureCodes(r results.Run) string {
	var codes []string
	for code := range r.Status {
		if !strings.HasPrefix(code, "2") {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	for i, c := range codes {
		if c == "error" {
			codes[i] = "connection errors"
		}
	}
	if len(codes) == 0 {
		return "errors"
	}
	return joinAnd(codes)
}

func (v *Verdict) judgeDuplicates(runs []results.Run) {
	for _, r := range runs {
		if !measured(r) || r.Duplicates == 0 {
			continue
		}
		when := faultPhrase(r)
		if !isFault(r) {
			when = inScenario(r)
		}
		v.Bad = append(v.Bad, fmt.Sprintf("Delivered %s %s (%s of %s accepted jobs) %s.",
			count(r.Duplicates), plural(r.Duplicates, "duplicate", "duplicates"), percent(r.Duplicates, r.Accepted), count(r.Accepted), when))
	}
}

// Saturated is the share of the accepted rate below which a scale run's
// deliveries count as not keeping up: its workers were the limit.
const Saturated = 0.9

// deliveredRate is the jobs per second the sink received during the
// measured phase: what the workers managed while the load was on, not the
// backlog they worked off afterwards.
func deliveredRate(r results.Run) float64 {
	if r.DurationS <= 0 || len(r.Timeseries) == 0 {
		return r.ThroughputRPS.Delivered // no time series (an older file): deliveries over the time they took
	}
	var n int64
	for _, p := range r.Timeseries {
		if p.T < r.DurationS {
			n += p.Delivered
		}
	}
	return float64(n) / r.DurationS
}

// keptUp says whether a scale run's deliveries kept pace with its answers.
func keptUp(r results.Run) bool {
	return deliveredRate(r) >= Saturated*r.ThroughputRPS.Accepted
}

// judgeScale compares each worker count with one worker. It refuses to
// judge when one worker kept up: then the load, not the workers, set the
// throughput, and more workers cannot show anything.
func (v *Verdict) judgeScale(runs []results.Run) {
	var one *results.Run
	var more []results.Run
	for _, r := range runs {
		if r.Scenario != "scale" || !measured(r) || r.Workers == 0 {
			continue
		}
		if r.Workers == 1 {
			one = &r
		} else {
			more = append(more, r)
		}
	}
	if one == nil || len(more) == 0 {
		return
	}
	base := deliveredRate(*one)
	if keptUp(*one) || base == 0 {
		v.NotMeasured = append(v.NotMeasured, fmt.Sprintf("scale: not judged, one worker kept up (%s of %s jobs/s accepted "+
			"delivered during the run), so the load could not show what more workers add.",
			num(base), num(one.ThroughputRPS.Accepted)))
		return
	}
	var parts []string
	var gain float64
	for _, r := range more {
		g := deliveredRate(r) / base
		gain = g
		if keptUp(r) {
			parts = append(parts, fmt.Sprintf("with %d workers at least %.1f× (they kept up)", r.Workers, g))
		} else {
			parts = append(parts, fmt.Sprintf("with %d workers %.1f×", r.Workers, g))
		}
	}
	detail := fmt.Sprintf("%s the %s jobs/s one worker delivered while %s jobs/s were offered (threshold: %s×)",
		joinAnd(parts), num(base), num(one.OfferedRPS), num(ScaleGainMin))
	if gain >= ScaleGainMin {
		v.Better = append(v.Better, "Scales out: "+detail+".")
	} else {
		v.Bad = append(v.Bad, "Does not scale out: "+detail+".")
	}
}

// joinAnd joins "a", "b", "c" as "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
