package reports

import (
	"fmt"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/offload/offload/results"
)

// LagThresholdMS is where a loop counts as blocked: node-resque's
// multiWorker default maxEventLoopDelay, and the lag monitor's default.
const LagThresholdMS = 10.0

// lagChart draws the web process's worst loop lag in each interval of the
// cpu scenario, one panel per strategy: the node loop solid, the go loop
// dashed, the blocking threshold as a grey line.
func lagChart(f *results.File) *Chart {
	bySeries := map[Series][]results.Run{}
	var order []Series
	var runs []results.Run
	lo, hi, tmax := 0.0, 0.0, 0.0
	var gaps leftOut
	for _, r := range f.Runs {
		if r.Scenario != "cpu" || !measured(r) || len(r.Timeseries) < 2 {
			continue
		}
		if !slices.ContainsFunc(r.Timeseries, func(pt results.Point) bool { return positive(pt.LagMaxMS) }) {
			// A loop that never lagged at all was not observed: an
			// external target without /debug/lag, or a run with no
			// lag samples. A flat line at the floor would read as a
			// perfect loop.
			gaps.add("%s, whose loop lag was not observed", loopLabel(seriesOf(r).Label(), r.Loop))
			continue
		}
		s := seriesOf(r)
		if _, ok := bySeries[s]; !ok {
			order = append(order, s)
		}
		bySeries[s] = append(bySeries[s], r)
		runs = append(runs, r)
		for i, pt := range r.Timeseries {
			if pt.LagMaxMS > 0 && (lo == 0 || pt.LagMaxMS < lo) {
				lo = pt.LagMaxMS
			}
			hi = max(hi, pt.LagMaxMS)
			tmax = max(tmax, pt.T+interval(r.Timeseries, i))
		}
	}
	if len(order) == 0 {
		return nil
	}
	slices.SortFunc(order, compareSeries)
	lo, hi = min(lo, LagThresholdMS)*0.7, max(hi, LagThresholdMS)*1.4
	const cols = 3
	var panels [][]*plot.Plot
	var loops []string
	for i, s := range order {
		if i%cols == 0 {
			panels = append(panels, make([]*plot.Plot, cols))
		}
		p := newPanel(s.Label(), "time (s)", "lag (ms)")
		p.X.Min, p.X.Max = 0, tmax
		p.Y.Min, p.Y.Max = lo, hi
		threshold, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: LagThresholdMS}, {X: tmax, Y: LagThresholdMS}})
		threshold.LineStyle = draw.LineStyle{Color: greyMid, Width: vg.Points(1), Dashes: dotted}
		p.Add(threshold)
		rs := bySeries[s]
		slices.SortStableFunc(rs, func(a, b results.Run) int { return rank([]string{"node", "go", "threads"})(a.Loop, b.Loop) })
		for _, r := range rs {
			xys := make(plotter.XYs, 0, len(r.Timeseries))
			for i, pt := range r.Timeseries {
				xys = append(xys, plotter.XY{X: pt.T + interval(r.Timeseries, i), Y: max(pt.LagMaxMS, lo)})
			}
			l, _ := plotter.NewLine(xys)
			l.LineStyle = draw.LineStyle{Color: s.Color(), Width: vg.Points(1.8), Dashes: loopDashes(r.Loop)}
			p.Add(l)
			if !slices.Contains(loops, r.Loop) {
				loops = append(loops, r.Loop)
			}
		}
		useLogY(p, lo)
		panels[len(panels)-1][i%cols] = p
	}
	var legend []legendEntry
	for _, l := range loops {
		legend = append(legend, legendEntry{"--loop " + l, []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1.8), loopDashes(l))}})
	}
	legend = append(legend, legendEntry{fmt.Sprintf("blocked above %s ms", num(LagThresholdMS)),
		[]plot.Thumbnailer{lineThumb(greyMid, vg.Points(1), dotted)}})
	title := "Web loop lag under the cpu scenario (worst per interval), node loop vs go loop"
	return &Chart{
		Name:  "lag-cpu",
		Title: title,
		Caption: gaps.caption("How late the web process's loop ran its own timer, worst case per interval, while jobs " +
			"burned CPU. Under the node loop (solid), a strategy that runs the job in the web process " +
			"(foreground, fireforget) holds the loop for as long as each job runs, so every other client " +
			"waits that long; strategies that hand the job to another process stay near zero. The go loop " +
			"(dashed) runs handlers on goroutines, so nobody blocks it. Above the dotted line the loop " +
			"counts as blocked."),
		Series: len(runs),
		fig: &figure{
			title: title, subtitle: subtitle(f.Env, runs), panels: panels, legend: legend,
			width: 11 * vg.Inch, height: vg.Length(1.2+2.6*float64(len(panels))) * vg.Inch,
		},
	}
}

func loopDashes(loop string) []vg.Length {
	switch loop {
	case "node", "":
		return nil
	case "go":
		return dashed
	}
	return dotted
}

// loopLabel names a run by its series and, when it chose one, its loop
// model: an external target has none.
func loopLabel(series, loop string) string {
	if loop == "" {
		return series
	}
	return series + " (--loop " + loop + ")"
}
