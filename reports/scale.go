package reports

import (
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/offload/offload/results"
)

// scaleChart draws delivered throughput against the number of workers, one
// line per strategy, with the offered rate as the ceiling.
func scaleChart(f *results.File) *Chart {
	bySeries := map[Series][]results.Run{}
	var order []Series
	var runs []results.Run
	var workers []int
	var top, offered float64
	for _, r := range f.Runs {
		if r.Scenario != "scale" || !measured(r) || r.Workers == 0 {
			continue
		}
		s := seriesOf(r)
		if _, ok := bySeries[s]; !ok {
			order = append(order, s)
		}
		bySeries[s] = append(bySeries[s], r)
		runs = append(runs, r)
		if !slices.Contains(workers, r.Workers) {
			workers = append(workers, r.Workers)
		}
		top = max(top, deliveredRate(r), r.OfferedRPS)
		offered = max(offered, r.OfferedRPS)
	}
	if len(order) == 0 {
		return nil
	}
	slices.SortFunc(order, compareSeries)
	slices.Sort(workers)
	p := newPanel("", "workers", "delivered (jobs/s)")
	p.X.Min, p.X.Max = 0, float64(workers[len(workers)-1])+0.5
	p.Y.Min, p.Y.Max = 0, roundUp(top*1.1)
	var ticks plot.ConstantTicks
	for _, w := range workers {
		ticks = append(ticks, plot.Tick{Value: float64(w), Label: strconv.Itoa(w)})
	}
	p.X.Tick.Marker = ticks
	// Each strategy is offered its own load (a multiple of what one of its
	// workers delivers), drawn in its colour.
	for _, s := range order {
		if rate := bySeries[s][0].OfferedRPS; rate > 0 {
			ceiling, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: rate}, {X: p.X.Max, Y: rate}})
			ceiling.LineStyle = draw.LineStyle{Color: s.Color(), Width: vg.Points(1), Dashes: dotted}
			p.Add(ceiling)
		}
	}
	for _, s := range order {
		rs := bySeries[s]
		slices.SortFunc(rs, func(a, b results.Run) int { return a.Workers - b.Workers })
		var xys plotter.XYs
		for _, r := range rs {
			xys = append(xys, plotter.XY{X: float64(r.Workers), Y: deliveredRate(r)})
		}
		l, sc, _ := plotter.NewLinePoints(xys)
		c := s.Color()
		l.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(2), Dashes: s.vgDashes()}
		sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		p.Add(l, sc)
	}
	legend := strategyLegend(order)
	legend = append(legend, legendEntry{"offered rate", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1), dotted)}})
	title := "Throughput as workers are added"
	return &Chart{
		Name:  "scale",
		Title: title,
		Caption: "Jobs delivered per second during the measured phase, unique jobs only, with 1, 2, 4… worker " +
			"processes under a load more than one worker can carry: a multiple of one worker's delivery capacity " +
			"measured by the capacity ladder, the dotted line in the strategy's colour. A strategy that shares work " +
			"between its workers climbs toward the line; one whose workers all receive every job (Redis " +
			"pub/sub fans out) stays flat and delivers duplicates instead.",
		Series: len(order),
		fig: &figure{
			title: title, subtitle: subtitle(f.Env, runs), panels: [][]*plot.Plot{{p}}, legend: legend,
			width: 9 * vg.Inch, height: 5 * vg.Inch,
		},
	}
}
