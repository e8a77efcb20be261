package reports

import (
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/offload/offload/results"
)

// spectrumCharts draws, per scenario, every strategy's latency at every
// percentile: HTTP response time (from when each request was due) on the
// left, end to end (due to delivered at the sink) on the right; hey's
// closed-loop figures dashed beside the open-loop ones.
func spectrumCharts(f *results.File, opt Options) []Chart {
	var out []Chart
	keys := scenarioKeys(f, func(r results.Run) bool { return measured(r) && r.Scenario != "scale" })
	for _, key := range keys {
		runs := runsOf(f, key)
		if len(runs) == 0 {
			continue
		}
		left := spectrumPanel("HTTP response time (due → response)", runs, MetricHTTP, opt, true)
		right := spectrumPanel("end to end (due → delivered at the sink)", runs, MetricE2E, opt, false)
		lo := min(left.Y.Min, right.Y.Min)
		hi := max(left.Y.Max, right.Y.Max)
		for _, p := range []*plot.Plot{left, right} {
			p.Y.Min, p.Y.Max = lo, hi
		}
		var series []Series
		for _, r := range runs {
			series = append(series, seriesOf(r))
		}
		legend := strategyLegend(series)
		legend = append(legend,
			legendEntry{"open loop (offload)", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1.5), nil)}},
			legendEntry{"closed loop (hey)", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1.5), heyDashes)}})
		title := "Latency by percentile — " + key
		out = append(out, Chart{
			Name:  "spectrum-" + key,
			Title: title,
			Caption: "Each line is one strategy's latency at every percentile, the tail to the right " +
				"(the x axis gives 90%, 99%, 99.9% and 99.99% equal room). Lower is better; a line that " +
				"turns up steeply at the right is a strategy whose worst requests wait far longer than its " +
				"typical ones. Solid lines are this harness's open-loop measurements, timed from when each " +
				"request was due; dashed lines are what hey, a closed-loop tool, reported for the same load: " +
				"where dashed sits far below solid, a closed-loop benchmark would have hidden the stall.",
			Series: len(runs),
			fig: &figure{
				title: title, subtitle: subtitle(f.Env, runs),
				panels: [][]*plot.Plot{{left, right}}, legend: legend,
				width: 11 * vg.Inch, height: 5 * vg.Inch,
			},
		})
	}
	return out
}

var heyDashes = []vg.Length{vg.Points(5), vg.Points(3)}

func spectrumPanel(title string, runs []results.Run, m Metric, opt Options, withHey bool) *plot.Plot {
	p := newPanel(title, "percentile", "latency (ms)")
	p.X.Scale = ninesScale{}
	p.X.Tick.Marker = ninesTicks
	p.X.Min, p.X.Max = 0.5, 0.9999
	lo, hi := 0.0, 0.0
	grow := func(xys plotter.XYs) {
		for _, q := range xys {
			if lo == 0 || q.Y < lo {
				lo = q.Y
			}
			hi = max(hi, q.Y)
		}
	}
	for _, r := range runs {
		s := seriesOf(r)
		style := draw.LineStyle{Color: s.Color(), Width: vg.Points(2), Dashes: s.vgDashes()}
		var qs []Quantile
		if opt.Quantiles != nil {
			qs = opt.Quantiles(r, m)
		}
		raw := len(qs) > 0
		if !raw {
			qs = summaryQuantiles(percentilesOf(r, m))
		}
		xys := toXYs(qs)
		if len(xys) == 0 {
			continue
		}
		grow(xys)
		l, _ := plotter.NewLine(xys)
		l.LineStyle = style
		p.Add(l)
		if !raw { // sparse estimates: show where the real points are
			sc, _ := plotter.NewScatter(xys)
			sc.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		if withHey && r.Hey != nil {
			hxys := toXYs(summaryQuantiles(r.Hey.LatencyMS))
			if len(hxys) > 0 {
				grow(hxys)
				hl, _ := plotter.NewLine(hxys)
				hl.LineStyle = draw.LineStyle{Color: style.Color, Width: vg.Points(1.5), Dashes: heyDashes}
				p.Add(hl)
			}
		}
	}
	p.Y.Min, p.Y.Max = lo*0.8, hi*1.25
	useLogY(p, 0.01)
	return p
}

func percentilesOf(r results.Run, m Metric) results.Percentiles {
	if m == MetricE2E {
		return r.E2ELatencyMS
	}
	return r.HTTPLatencyMS
}

// summaryQuantiles turns p50…max into points; max sits at 1-1/count, the
// rank of the slowest request, and p99.9 only when there were enough
// requests for it to differ from the max.
func summaryQuantiles(p results.Percentiles) []Quantile {
	if p.Count == 0 && p.Max == 0 {
		return nil
	}
	qs := []Quantile{{0.5, p.P50}, {0.9, p.P90}, {0.99, p.P99}}
	if p.Count >= 1000 && p.P999 > 0 {
		qs = append(qs, Quantile{0.999, p.P999})
	}
	top := 0.9999
	if p.Count > 0 {
		top = min(top, 1-1/float64(p.Count))
	}
	if last := qs[len(qs)-1].P; top > last && p.Max > 0 {
		qs = append(qs, Quantile{top, p.Max})
	}
	return qs
}

// toXYs keeps the points a log axis can draw, in percentile order.
func toXYs(qs []Quantile) plotter.XYs {
	var xys plotter.XYs
	for _, q := range qs {
		if q.MS > 0 && q.P >= 0.5 && q.P <= 0.9999 {
			xys = append(xys, plotter.XY{X: q.P, Y: q.MS})
		}
	}
	slices.SortStableFunc(xys, func(a, b plotter.XY) int {
		switch {
		case a.X < b.X:
			return -1
		case a.X > b.X:
			return 1
		}
		return 0
	})
	return xys
}
