package reports

import (
	"fmt"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/offload/offload/results"
)

// faultKeys lists the scenario keys whose runs injected a fault, plus the
// series that took part in them (n/a runs included, so the charts can say
// n/a rather than leave a silent gap).
func faultKeys(f *results.File) ([]string, []Series) {
	faulty := map[string]bool{}
	for _, r := range f.Runs {
		if isFault(r) {
			faulty[scenarioKey(r)] = true
		}
	}
	keys := scenarioKeys(f, func(r results.Run) bool { return faulty[scenarioKey(r)] })
	var series []Series
	for _, r := range f.Runs {
		if s := seriesOf(r); faulty[scenarioKey(r)] && !slices.Contains(series, s) {
			series = append(series, s)
		}
	}
	slices.SortFunc(series, compareSeries)
	return keys, series
}

// find returns the run of a series in a scenario key, n/a runs included.
func find(f *results.File, key string, s Series) (results.Run, bool) {
	for _, r := range f.Runs {
		if scenarioKey(r) == key && seriesOf(r) == s {
			return r, true
		}
	}
	return results.Run{}, false
}

// barFor finds the run for key and s; when there is none, or it was n/a
// or invalid, ok is false and cell is the bar that says so.
func barFor(f *results.File, key string, s Series) (r results.Run, cell barCell, ok bool) {
	r, found := find(f, key, s)
	switch {
	case !found:
		return r, barCell{}, false
	case r.NAReason != "":
		return r, barCell{label: "n/a"}, false
	case r.Invalid != "":
		return r, barCell{label: "invalid"}, false
	}
	return r, barCell{}, true
}

// countCell is a bar for a count with its share of the accepted jobs.
func countCell(f *results.File, key string, s Series, get func(results.Run) int64) barCell {
	r, cell, ok := barFor(f, key, s)
	if !ok {
		return cell
	}
	n := get(r)
	if n == 0 {
		return barCell{label: "0"}
	}
	return barCell{value: float64(n), label: count(n) + "\n" + percent(n, r.Accepted)}
}

func lossChart(f *results.File) *Chart {
	keys, series := faultKeys(f)
	if len(keys) == 0 {
		return nil
	}
	lost := newPanel("lost: accepted, never delivered", "", "jobs")
	dups := newPanel("duplicates: delivered more than once", "", "extra deliveries")
	n := groupedBars(lost, keys, series, func(k string, s Series) barCell {
		return countCell(f, k, s, func(r results.Run) int64 { return r.Lost })
	})
	groupedBars(dups, keys, series, func(k string, s Series) barCell {
		return countCell(f, k, s, func(r results.Run) int64 { return r.Duplicates })
	})
	title := "Jobs lost and delivered twice, per fault"
	return &Chart{
		Name:  "loss-duplicates",
		Title: title,
		Caption: "For each fault scenario, one bar per strategy: above, the jobs the server accepted (answered " +
			"2xx) that never reached the mail sink; below, deliveries beyond the first. Each bar is labelled with " +
			"its count and its share of the accepted jobs; 0 means measured and none, n/a means the fault does " +
			"not apply to that strategy (no worker to kill, no broker to restart). Requests the server refused " +
			"(4xx/5xx) are not losses: the client knew.",
		Series: n,
		fig: &figure{
			title: title, subtitle: subtitle(f.Env, faultRuns(f, keys)),
			panels: [][]*plot.Plot{{lost}, {dups}}, legend: strategyBoxes(series),
			width: 11 * vg.Inch, height: 7 * vg.Inch,
		},
	}
}

// faultRuns lists the fault scenarios' runs that offered load, valid or
// not, for the subtitle's "what was run".
func faultRuns(f *results.File, keys []string) []results.Run {
	var out []results.Run
	for _, r := range f.Runs {
		if slices.Contains(keys, scenarioKey(r)) && r.NAReason == "" {
			out = append(out, r)
		}
	}
	return out
}

func recoveryChart(f *results.File) *Chart {
	keys, series := faultKeys(f)
	if len(keys) == 0 {
		return nil
	}
	p := newPanel("from repair to normal service (delivering at the offered rate, backlog drained)", "", "recovery (s)")
	n := groupedBars(p, keys, series, func(k string, s Series) barCell {
		r, cell, ok := barFor(f, k, s)
		switch {
		case !ok:
			return cell
		case r.RecoveryS == nil:
			return barCell{label: "never"}
		}
		return barCell{value: *r.RecoveryS, label: num(*r.RecoveryS) + " s"}
	})
	title := "Recovery time after each fault"
	return &Chart{
		Name:  "recovery",
		Title: title,
		Caption: "How long after the fault was repaired (process restarted, broker back, sink healthy) each " +
			"strategy took to deliver at the offered rate again with its backlog drained. Shorter is better; " +
			"\"never\" means it had not recovered by the end of the run (REPORT.md gives the reason), n/a " +
			"that the fault does not apply to the strategy.",
		Series: n,
		fig: &figure{
			title: title, subtitle: subtitle(f.Env, faultRuns(f, keys)),
			panels: [][]*plot.Plot{{p}}, legend: strategyBoxes(series),
			width: 11 * vg.Inch, height: 4.5 * vg.Inch,
		},
	}
}

// costKey picks the scenario the cost is read from: steady when it ran.
func costKey(f *results.File) string {
	keys := scenarioKeys(f, measured)
	if slices.Contains(keys, "steady") {
		return "steady"
	}
	if len(keys) > 0 {
		return keys[0]
	}
	return ""
}

func costChart(f *results.File) *Chart {
	key := costKey(f)
	runs := runsOf(f, key)
	if len(runs) == 0 {
		return nil
	}
	var series []Series
	for _, r := range runs {
		series = append(series, seriesOf(r))
	}
	cpu := newPanel("CPU per 1,000 delivered jobs", "", "CPU seconds, all processes")
	rss := newPanel("peak memory", "", "peak RSS (MB), all processes")
	singleBars(cpu, runs, func(r results.Run) (float64, string) { return r.CPUPer1kS, num(r.CPUPer1kS) + " s" })
	singleBars(rss, runs, func(r results.Run) (float64, string) { return r.PeakRSSMB, num(r.PeakRSSMB) + " MB" })
	title := fmt.Sprintf("What each strategy costs — %s scenario", key)
	return &Chart{
		Name:  "cost",
		Title: title,
		Caption: "The machine time behind the numbers, summed over every process a strategy needs (web, " +
			"workers, supervisor, redis): CPU seconds spent per 1,000 jobs delivered, and the peak resident " +
			"memory. Handing work to other processes buys a free web loop with extra processes to feed.",
		Series: len(series),
		fig: &figure{
			title: title, subtitle: subtitle(f.Env, runs),
			panels: [][]*plot.Plot{{cpu, rss}}, legend: strategyBoxes(series),
			width: 11 * vg.Inch, height: 4.5 * vg.Inch,
		},
	}
}
