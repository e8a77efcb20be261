package reports

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/offload/offload/results"
)

// barCell is one bar: its height and the label printed above it. A cell
// with an empty label and zero value is left out (no run).
type barCell struct {
	value float64
	label string
}

// groupedBars draws one bar per series in each group (x is the group's
// index, as NominalX expects) with each bar's label above it, and returns
// how many bar series it drew.
func groupedBars(p *plot.Plot, groups []string, series []Series, cell func(group string, s Series) barCell) int {
	const groupWidth = 0.8
	w := groupWidth / float64(len(series))
	var top float64
	var labels plotter.XYLabels
	for si, s := range series {
		b := &rects{color: s.fill()}
		for gi, g := range groups {
			c := cell(g, s)
			if c.label == "" && c.value == 0 {
				continue
			}
			x0 := float64(gi) - groupWidth/2 + float64(si)*w
			b.items = append(b.items, rect{x0: x0 + w*0.06, x1: x0 + w*0.94, y: c.value})
			labels.XYs = append(labels.XYs, plotter.XY{X: x0 + w/2, Y: c.value})
			labels.Labels = append(labels.Labels, c.label)
			top = max(top, c.value)
		}
		p.Add(b)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	p.Y.Min, p.Y.Max = 0, axisTop(top, 1.25)
	addBarLabels(p, labels)
	return len(series)
}

type rect struct{ x0, x1, y float64 }

// rects is a bar series in data coordinates, so bars keep their place in
// the group whatever the size of the canvas (gonum's BarChart sizes bars in
// points).
type rects struct {
	items []rect
	color color.Color
}

func (b *rects) Plot(c draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&c)
	for _, r := range b.items {
		if r.y <= 0 {
			continue
		}
		pts := []vg.Point{{X: x(r.x0), Y: y(0)}, {X: x(r.x1), Y: y(0)}, {X: x(r.x1), Y: y(r.y)}, {X: x(r.x0), Y: y(r.y)}}
		c.FillPolygon(b.color, c.ClipPolygonXY(pts))
	}
}

func (b *rects) DataRange() (xmin, xmax, ymin, ymax float64) {
	for i, r := range b.items {
		if i == 0 {
			xmin, xmax = r.x0, r.x1
		}
		xmin, xmax, ymax = min(xmin, r.x0), max(xmax, r.x1), max(ymax, r.y)
	}
	return xmin, xmax, 0, ymax
}

func strategyBoxes(series []Series) []legendEntry {
	var out []legendEntry
	for _, s := range series {
		out = append(out, legendEntry{s.Label(), []plot.Thumbnailer{boxThumb(s.fill())}})
	}
	return out
}

// singleBars draws one labelled bar per run, named on the x axis.
func singleBars(p *plot.Plot, runs []results.Run, get func(results.Run) (float64, string)) {
	var names []string
	var labels plotter.XYLabels
	var top float64
	for i, r := range runs {
		v, label := get(r)
		x := float64(i)
		p.Add(&rects{color: seriesOf(r).fill(), items: []rect{{x0: x - 0.3, x1: x + 0.3, y: v}}})
		names = append(names, seriesOf(r).Label())
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: v})
		labels.Labels = append(labels.Labels, label)
		top = max(top, v)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(runs))-0.5
	p.Y.Min, p.Y.Max = 0, axisTop(top, 1.2)
	addBarLabels(p, labels)
}

func addBarLabels(p *plot.Plot, labels plotter.XYLabels) {
	if len(labels.XYs) == 0 {
		return
	}
	l, _ := plotter.NewLabels(labels)
	for i := range l.TextStyle {
		l.TextStyle[i] = text.Style{Color: color.Gray{0x22}, Font: font.From(sans, 7), XAlign: draw.XCenter,
			Handler: plot.DefaultTextHandler}
	}
	l.Offset = vg.Point{Y: vg.Points(2)}
	p.Add(l)
}

// axisTop leaves room above the tallest bar for its label; an empty chart
// (nothing lost anywhere) gets a plain 0…1 axis.
func axisTop(top, headroom float64) float64 {
	if top <= 0 {
		return 1
	}
	return roundUp(top * headroom)
}
