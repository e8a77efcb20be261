package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/offload/offload/results"
)

// Chart is one chart, written as Name.png and Name.svg.
type Chart struct {
	Name    string // file name without extension, from its content: "spectrum-steady"
	Title   string
	Caption string // one paragraph on how to read it
	Series  int    // lines or bar series drawn: what the golden tests count
	fig     *figure
}

// PNG renders the chart as a PNG image.
func (c Chart) PNG() ([]byte, error) { return c.fig.render("png") }

// SVG renders the chart as an SVG document.
func (c Chart) SVG() ([]byte, error) { return c.fig.render("svg") }

// Quantile is one point of a latency distribution: the fraction P of
// requests answered within MS milliseconds.
type Quantile struct{ P, MS float64 }

// Metric names a latency distribution of a run.
type Metric string

const (
	MetricHTTP Metric = "http" // due -> response
	MetricE2E  Metric = "e2e"  // due -> first delivery
)

// Options feed the charts what results.json alone does not hold.
type Options struct {
	// Quantiles returns the full distribution from the run's raw HDR
	// histograms, or nil when there are none; the spectrum then falls back
	// to the summary percentiles. Nil means "never any".
	Quantiles func(r results.Run, m Metric) []Quantile
}

// Charts builds every chart the file has data for, in a fixed order.
func Charts(f *results.File, opt Options) []Chart {
	f = Collapse(f)
	var out []Chart
	out = append(out, spectrumCharts(f, opt)...)
	out = append(out, timelineCharts(f)...)
	add := func(c *Chart) {
		if c != nil {
			out = append(out, *c)
		}
	}
	add(lagChart(f))
	add(lossChart(f))
	add(recoveryChart(f))
	add(costChart(f))
	add(scaleChart(f))
	out = append(out, capacityCharts(f)...)
	return out
}

// measured reports whether a run has numbers a chart may show.
// A capacity ladder is a run of many rates: its own charts and table show it.
func measured(r results.Run) bool { return r.NAReason == "" && r.Invalid == "" && r.Capacity == nil }

// scenarioKey names a scenario together with the web loop it ran under
// when that is not the default node loop.
func scenarioKey(r results.Run) string {
	if r.Loop != "" && r.Loop != "node" {
		return r.Scenario + "-loop-" + r.Loop
	}
	return r.Scenario
}

// scenarioKeys lists the scenario keys present, in scenario order.
func scenarioKeys(f *results.File, keep func(results.Run) bool) []string {
	var keys []string
	for _, r := range f.Runs {
		if k := scenarioKey(r); keep(r) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		sa, _, _ := strings.Cut(a, "-loop-")
		sb, _, _ := strings.Cut(b, "-loop-")
		if c := rank(scenarioOrder)(sa, sb); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return keys
}

// runsOf returns the measured runs of one scenario key, in talk order.
func runsOf(f *results.File, key string) []results.Run {
	var out []results.Run
	for _, r := range f.Runs {
		if scenarioKey(r) == key && measured(r) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b results.Run) int { return compareSeries(seriesOf(a), seriesOf(b)) })
	return out
}

func isFault(r results.Run) bool { return len(r.Faults) > 0 }

// subtitle says what was run: the load, the machine, the software.
func subtitle(env results.Env, runs []results.Run) string {
	parts := []string{loadLine(runs)}
	machine := env.CPUModel
	if env.Cores > 0 {
		machine += fmt.Sprintf(", %d cores", env.Cores)
	}
	if env.Placement != "" && env.Placement != "off" {
		machine += ", cpus " + env.Placement + " (load/system under test)"
	}
	parts = append(parts, strings.TrimPrefix(machine, ", "))
	sw := env.GoVersion
	if env.RedisVersion != "" {
		sw += ", redis " + env.RedisVersion
	}
	if env.GitSHA != "" {
		sw += ", offload " + shortSHA(env.GitSHA)
	}
	if env.Quick {
		sw += ", --quick"
	}
	parts = append(parts, sw)
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "  ·  ")
}

func shortSHA(s string) string { return s[:min(len(s), 7)] }

// loadLine is "200 req/s for 20 s", or a range when the runs differ.
func loadLine(runs []results.Run) string {
	var rates, durs []float64
	for _, r := range runs {
		if r.NAReason == "" && r.OfferedRPS > 0 {
			rates = append(rates, r.OfferedRPS)
			durs = append(durs, r.DurationS)
		}
	}
	if len(rates) == 0 {
		return ""
	}
	return span(rates, "req/s") + " offered for " + span(durs, "s")
}

func span(vs []float64, unit string) string {
	lo, hi := slices.Min(vs), slices.Max(vs)
	if lo == hi {
		return num(lo) + " " + unit
	}
	return num(lo) + "–" + num(hi) + " " + unit
}
