package reports

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Sans is metric-compatible with Arial, so the SVG's text, which names the
// font rather than embedding it, measures the same in a browser.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

const pngDPI = 144

// figure is one chart file: a title saying what was shown, a subtitle saying
// what was run, a grid of panels, and a legend in a strip of its own to the
// right so it never covers data.
type figure struct {
	title, subtitle string
	panels          [][]*plot.Plot // rows of panels; nil leaves a cell empty
	legend          []legendEntry
	width, height   vg.Length
}

type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

// newPanel is a plot with our fonts, a light grid and the given axis labels.
func newPanel(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 11)
	p.Title.Padding = vg.Points(4)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sans, 10)
		ax.Tick.Label.Font = font.From(sans, 9)
		ax.Padding = vg.Points(2)
	}
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xE8}
	grid.Horizontal.Color = color.Gray{0xE8}
	p.Add(grid)
	return p
}

// safeRender is render with a chart library's panic turned into an error
// that names the chart: results.json is already written when charts are
// drawn, and one chart must not take the report and the exit code with it.
func (fg *figure) safeRender(format, name string) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("draw chart %s: %v", name, p)
		}
	}()
	return fg.render(format)
}

// render draws the figure in the given format ("png" or "svg").
func (fg *figure) render(format string) ([]byte, error) {
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(fg.width, fg.height), vgimg.UseDPI(pngDPI))}
	case "svg":
		c = vgsvg.New(fg.width, fg.height)
	default:
		return nil, fmt.Errorf("render chart: unknown format %q", format)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	fg.draw(dc)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode %s chart %q: %w", format, fg.title, err)
	}
	return buf.Bytes(), nil
}

func (fg *figure) draw(dc draw.Canvas) {
	pad := vg.Points(8)
	top := fg.drawTitles(dc, pad)
	area := draw.Crop(dc, pad, -pad, pad, -top)
	if len(fg.legend) > 0 {
		leg := fg.buildLegend()
		w := legendWidth(leg, fg.legend)
		legC := draw.Crop(area, area.Max.X-area.Min.X-w, 0, 0, 0)
		leg.Draw(legC)
		area = draw.Crop(area, 0, -w-pad, 0, 0)
	}
	rows := len(fg.panels)
	if rows == 0 {
		return
	}
	tiles := draw.Tiles{Rows: rows, Cols: len(fg.panels[0]), PadX: vg.Points(14), PadY: vg.Points(10)}
	canvases := plot.Align(fg.panels, tiles, area)
	for j, row := range fg.panels {
		for i, p := range row {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
}

// drawTitles writes the title and subtitle and returns the height they took.
func (fg *figure) drawTitles(dc draw.Canvas, pad vg.Length) vg.Length {
	y := dc.Max.Y - pad
	for _, t := range []struct {
		text string
		size vg.Length
		clr  color.Color
	}{{fg.title, 14, color.Black}, {fg.subtitle, 10, color.Gray{0x55}}} {
		if t.text == "" {
			continue
		}
		sty := draw.TextStyle{Color: t.clr, Font: font.From(sans, t.size), Handler: plot.DefaultTextHandler}
		sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
		dc.FillText(sty, vg.Point{X: dc.Min.X + pad, Y: y}, t.text)
		y -= sty.Height(t.text) + vg.Points(3)
	}
	return dc.Max.Y - y + pad/2
}

func (fg *figure) buildLegend() *plot.Legend {
	leg := plot.NewLegend()
	leg.TextStyle.Font = font.From(sans, 10)
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = vg.Points(22)
	leg.Padding = vg.Points(3)
	for _, e := range fg.legend {
		leg.Add(e.label, e.thumbs...)
	}
	return &leg
}

func legendWidth(leg *plot.Legend, entries []legendEntry) vg.Length {
	var w vg.Length
	for _, e := range entries {
		w = max(w, leg.TextStyle.Width(e.label))
	}
	return w + leg.ThumbnailWidth + leg.TextStyle.Width("  ")
}

// lineThumb is a legend sample for a line of the given colour and dashes.
func lineThumb(c color.Color, width vg.Length, dashes []vg.Length) plot.Thumbnailer {
	l := &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: width, Dashes: dashes}}
	return l
}

// boxThumb is a legend sample for a filled area or bar.
func boxThumb(c color.Color) plot.Thumbnailer {
	return &plotter.BarChart{Color: c, LineStyle: draw.LineStyle{Color: c, Width: vg.Points(0.5)}}
}

func strategyLegend(series []Series) []legendEntry {
	var out []legendEntry
	for _, s := range series {
		out = append(out, legendEntry{s.Label(), []plot.Thumbnailer{lineThumb(s.Color(), vg.Points(2), s.vgDashes())}})
	}
	return out
}

func (s Series) vgDashes() []vg.Length {
	var out []vg.Length
	for _, d := range s.dashes() {
		out = append(out, vg.Points(d))
	}
	return out
}
