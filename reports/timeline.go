package reports

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/offload/offload/results"
)

// timelineCharts draws, per fault scenario, what happened second by second:
// requests offered, accepted and delivered per second on the left, the
// backlog (accepted, not yet delivered) on the right, one row per strategy
// on a shared time axis, with the fault window shaded.
func timelineCharts(f *results.File) []Chart {
	var out []Chart
	keys := scenarioKeys(f, func(r results.Run) bool { return measured(r) && isFault(r) && len(r.Timeseries) > 1 })
	for _, key := range keys {
		var runs []results.Run
		for _, r := range runsOf(f, key) {
			if len(r.Timeseries) > 1 {
				runs = append(runs, r)
			}
		}
		if len(runs) == 0 {
			continue
		}
		fig := timelineFigure(runs)
		fig.title = "What happened second by second — " + key
		fig.subtitle = subtitle(f.Env, runs)
		out = append(out, Chart{
			Name:  "timeline-" + key,
			Title: fig.title,
			Caption: "One row per strategy, time in seconds from the start of the measured phase; the grey band " +
				"is the fault, from injection to repair. Left: requests offered (grey), accepted (dashed) and " +
				"jobs delivered at the sink (solid) per second. Right: the backlog, jobs accepted and not yet " +
				"delivered. A strategy that copes keeps accepting through the band and its delivered line " +
				"catches up after it while the backlog drains back to zero; accepted jobs that are never " +
				"delivered are losses (counted in each row's title).",
			Series: len(runs),
			fig:    fig,
		})
	}
	return out
}

func timelineFigure(runs []results.Run) *figure {
	var tmax, rmax, bmax float64
	for _, r := range runs {
		for i, pt := range r.Timeseries {
			dt := interval(r.Timeseries, i)
			tmax = max(tmax, pt.T+dt)
			rmax = max(rmax, float64(max(pt.Offered, pt.Accepted, pt.Delivered))/dt)
			bmax = max(bmax, float64(pt.Backlog))
		}
	}
	rmax, bmax = roundUp(rmax*1.05), roundUp(bmax*1.05)
	var panels [][]*plot.Plot
	for i, r := range runs {
		xlabel := ""
		if i == len(runs)-1 {
			xlabel = "time (s)"
		}
		s := seriesOf(r)
		rate := newPanel(fmt.Sprintf("%s — %s", s.Label(), outcomeLine(r)), xlabel, "per second")
		backlog := newPanel("backlog", xlabel, "jobs waiting")
		for _, p := range []*plot.Plot{rate, backlog} {
			p.X.Min, p.X.Max = 0, tmax
			for _, fl := range r.Faults {
				p.Add(band{from: fl.StartS, to: fl.EndS, color: greyLight})
			}
		}
		rate.Y.Min, rate.Y.Max = 0, rmax
		backlog.Y.Min, backlog.Y.Max = 0, bmax
		addRateLines(rate, r, s.Color())
		addBacklog(backlog, r, s.Color())
		panels = append(panels, []*plot.Plot{rate, backlog})
	}
	black := color.Black
	return &figure{
		panels: panels,
		legend: []legendEntry{
			{"offered", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1.2), dotted)}},
			{"accepted", []plot.Thumbnailer{lineThumb(black, vg.Points(1.5), dashed)}},
			{"delivered", []plot.Thumbnailer{lineThumb(black, vg.Points(2), nil)}},
			{"backlog", []plot.Thumbnailer{boxThumb(color.Gray{0xAA})}},
			{"fault window", []plot.Thumbnailer{boxThumb(greyLight)}},
			{"(colour: strategy)", nil},
		},
		width:  11 * vg.Inch,
		height: vg.Length(1.2+1.55*float64(len(runs))) * vg.Inch,
	}
}

var (
	dotted = []vg.Length{vg.Points(1.5), vg.Points(2)}
	dashed = []vg.Length{vg.Points(5), vg.Points(2.5)}
)

// outcomeLine is a run's accounting in a few words, for a panel title.
func outcomeLine(r results.Run) string {
	s := fmt.Sprintf("lost %s of %s", count(r.Lost), count(r.Accepted))
	if r.Duplicates > 0 {
		s += fmt.Sprintf(", %s duplicates", count(r.Duplicates))
	}
	if r.RecoveryS != nil {
		s += ", recovered in " + num(*r.RecoveryS) + " s"
	} else if r.RecoveryNote != "" {
		s += ", did not recover"
	}
	return s
}

// interval is the length of point i: the gap to the next point (the last
// point reuses the previous gap).
func interval(ts []results.Point, i int) float64 {
	switch {
	case i+1 < len(ts):
		return max(ts[i+1].T-ts[i].T, 1e-3)
	case i > 0:
		return max(ts[i].T-ts[i-1].T, 1e-3)
	}
	return 1
}

func addRateLines(p *plot.Plot, r results.Run, c color.Color) {
	for _, l := range []struct {
		get    func(results.Point) int64
		clr    color.Color
		width  vg.Length
		dashes []vg.Length
	}{
		{func(pt results.Point) int64 { return pt.Offered }, greyMid, vg.Points(1.2), dotted},
		{func(pt results.Point) int64 { return pt.Accepted }, c, vg.Points(1.5), dashed},
		{func(pt results.Point) int64 { return pt.Delivered }, c, vg.Points(2), nil},
	} {
		// Each point counts what happened in [T, T+dt]; PreStep draws
		// each value over the interval that ends at its x.
		first := r.Timeseries[0]
		xys := plotter.XYs{{X: first.T, Y: float64(l.get(first)) / interval(r.Timeseries, 0)}}
		for i, pt := range r.Timeseries {
			dt := interval(r.Timeseries, i)
			xys = append(xys, plotter.XY{X: pt.T + dt, Y: float64(l.get(pt)) / dt})
		}
		line, _ := plotter.NewLine(xys)
		line.LineStyle = draw.LineStyle{Color: l.clr, Width: l.width, Dashes: l.dashes}
		line.StepStyle = plotter.PreStep
		p.Add(line)
	}
}

func addBacklog(p *plot.Plot, r results.Run, c color.NRGBA) {
	first := r.Timeseries[0]
	xys := plotter.XYs{{X: first.T, Y: float64(max(0, first.Backlog-first.Accepted+first.Delivered))}}
	for i, pt := range r.Timeseries {
		xys = append(xys, plotter.XY{X: pt.T + interval(r.Timeseries, i), Y: float64(pt.Backlog)})
	}
	line, _ := plotter.NewLine(xys)
	line.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.5)}
	fill := c
	fill.A = 0x55
	line.FillColor = fill
	p.Add(line)
}

// band shades x in [from, to] over the whole height of a panel.
type band struct {
	from, to float64
	color    color.Color
}

func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	x, _ := p.Transforms(&c)
	x0, x1 := max(x(b.from), c.Min.X), min(x(b.to), c.Max.X)
	if x1 <= x0 {
		return
	}
	c.FillPolygon(b.color, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
}
