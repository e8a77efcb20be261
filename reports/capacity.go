package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/offload/offload/results"
)

// BaselineStrategy is the capacity ladder's reference row: not a strategy
// but the bare accept path every strategy is read against.
const BaselineStrategy = "baseline"

// ladder is one capacity run with the series it belongs to.
type ladder struct {
	Run    results.Run
	Series Series
}

// ladders lists the capacity runs that carry a ladder, baseline first, then
// in talk order, the node loop before the go loop.
func ladders(f *results.File) []ladder {
	var out []ladder
	for _, r := range f.Runs {
		if r.Scenario == "capacity" && r.NAReason == "" && r.Capacity != nil {
			out = append(out, ladder{r, seriesOf(r)})
		}
	}
	slices.SortStableFunc(out, func(a, b ladder) int {
		if c := compareSeries(a.Series, b.Series); c != 0 {
			return c
		}
		return rank([]string{"node", "go", "threads"})(a.Run.Loop, b.Run.Loop)
	})
	return out
}

// ladderName is the series' label with its loop when that is not node.
func (l ladder) name() string {
	if l.Run.Loop != "" && l.Run.Loop != "node" && l.Run.Strategy != BaselineStrategy {
		return l.Series.Label() + ", --loop " + l.Run.Loop
	}
	return l.Series.Label()
}

// baselineAccept is the reference row's accept figure (0: none in the file).
func baselineAccept(f *results.File) (float64, bool) {
	for _, reps := range foldRepeats(ladders(f)) {
		if l := reps[len(reps)/2]; l.Run.Strategy == BaselineStrategy {
			return l.Run.Capacity.MaxAcceptRPS, !l.Run.Capacity.Ceiling
		}
	}
	return 0, false
}

// atLeast marks a figure the ladder never saw fail as a lower bound.
func atLeast(c *results.Capacity, v float64) string {
	if c.Ceiling {
		return "≥ " + num(v)
	}
	return num(v)
}

// lastPassing is the highest step whose answers kept up (nil: none). The
// ladder bisects after it climbs, so that is not the last one run.
func lastPassing(c *results.Capacity) *results.CapacityStep {
	var out *results.CapacityStep
	steps := c.Judged()
	for i := range steps {
		if steps[i].AcceptOK && (out == nil || steps[i].OfferedRPS > out.OfferedRPS) {
			out = &steps[i]
		}
	}
	return out
}

// CapacityTable is one row per ladder: both figures, the baseline ratio,
// what broke first, and the cost per job at the highest step that passed.
func CapacityTable(f *results.File) Table {
	t := Table{Header: []string{"strategy", "accept (req/s)", "× baseline", "delivery (jobs/s)", "accept broke on",
		"delivery broke on", "CPU ms/job", "RSS KB/job"}}
	base, _ := baselineAccept(f)
	for _, reps := range foldRepeats(ladders(f)) {
		l := reps[len(reps)/2] // the median accept figure's repeat speaks for the others
		c := l.Run.Capacity
		ratio := "–"
		if base > 0 && l.Run.Strategy != BaselineStrategy {
			ratio = fmt.Sprintf("%.2f×", c.MaxAcceptRPS/base)
		}
		delivery := deliveryFigure(c)
		accept := num(c.MaxAcceptRPS)
		if len(reps) > 1 {
			var v []float64
			for _, r := range reps {
				v = append(v, r.Run.Capacity.MaxAcceptRPS)
			}
			accept = spreadOf(v).String()
		}
		if c.AcceptLimitedBy == "" {
			accept = "≥ " + accept
		}
		cpu, rss := "–", "–"
		if s := lastPassing(c); s != nil {
			cpu, rss = num(s.CPUMSPerJob), num(s.RSSKBPerJob)
		}
		t.Rows = append(t.Rows, []Cell{{Text: l.name()}, {Text: accept}, {Text: ratio, Bad: ratio != "–" && base > 0 &&
			c.MaxAcceptRPS < AcceptShareMin*base}, {Text: delivery}, {Text: orDash(c.AcceptLimitedBy)},
			{Text: orDash(c.DeliveryLimitedBy)}, {Text: cpu}, {Text: rss}})
	}
	return t
}

// foldRepeats groups the repeats of each ladder (same series and loop), in
// table order, each group sorted by its accept figure.
func foldRepeats(ls []ladder) [][]ladder {
	var out [][]ladder
	at := map[string]int{}
	for _, l := range ls {
		k := l.name()
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], l)
	}
	for _, g := range out {
		slices.SortStableFunc(g, func(a, b ladder) int { return cmp.Compare(a.Run.Capacity.MaxAcceptRPS, b.Run.Capacity.MaxAcceptRPS) })
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// capacityNote says how to read the capacity table.
const capacityNote = "Each figure is the highest step of an open-loop rate ladder that passed. The ladder climbs from " +
	"50 req/s by √2 (by 2 under --quick) until two steps in a row fail their answers, then bisects between the " +
	"highest pass and the lowest failure above it to within 10 % (50 % under --quick). For accept, a step needs at " +
	"least 95 % of the offered rate answered 2xx with HTTP p99 from due within the SLO, and a generator whose " +
	"send-delay p99 stayed within max(1 ms, a tenth of that HTTP p99); for delivery, in addition, a backlog " +
	"(accepted − delivered) not growing by more than 5 % of the offered rate per second and nothing lost (a job " +
	"is lost only when no delivery has arrived for a second; before that it is backlog). Deliveries are judged at " +
	"every step until two in a row fall behind. ≥ marks a ladder that ran out of rates before anything broke. " +
	"\"Broke on\" names what the evidence of the failing step just above the figure points at: CPU per process " +
	"against one core for a node loop and each redis-server, against the machine otherwise (bench is the " +
	"generator and mail sink), loop lag, messages in flight at the sink against the senders. \"sat.\" is the " +
	"deliveries per second at the busiest step that fell behind, with messages in flight × the time each took " +
	"(Little's law). CPU and RSS per job are read at the highest passing step. × baseline is the accept figure " +
	"over the bare net/http handler's that answers 202 after one LPUSH."

// AcceptShareMin is the share of the baseline's accept capacity a strategy
// that answers before the job is done should reach: the rest is what its
// own machinery costs on the request path.
const AcceptShareMin = 0.8

// capacityCharts are the hockey stick (latency against offered rate, one
// panel per ladder) and delivered against offered (one panel, every ladder).
func capacityCharts(f *results.File) []Chart {
	ls := ladders(f)
	if len(ls) == 0 {
		return nil
	}
	var runs []results.Run
	var slo float64
	lo, hi, ylo, yhi := math.Inf(1), 0.0, math.Inf(1), 0.0
	var gaps leftOut
	for _, l := range ls {
		runs = append(runs, l.Run)
		slo = max(slo, l.Run.Capacity.SLOMS)
		for _, s := range l.Run.Capacity.Judged() {
			if !positive(s.OfferedRPS) {
				gaps.add("%s: a step that offered %s req/s", l.name(), num(s.OfferedRPS))
				continue
			}
			lo, hi = min(lo, s.OfferedRPS), max(hi, s.OfferedRPS)
			if s.HTTPLatencyMS.Count > 0 {
				ylo, yhi = min(ylo, s.HTTPLatencyMS.P50), max(yhi, s.HTTPLatencyMS.P99)
			}
		}
	}
	if hi == 0 {
		return nil
	}
	lo, hi = lo/1.3, hi*1.3
	ylo, yhi = max(0.05, min(ylo, slo)/2), max(yhi, slo)*2
	if math.IsInf(ylo, 1) {
		ylo = 0.05
	}
	const cols = 3
	var panels [][]*plot.Plot
	for i, l := range ls {
		if i%cols == 0 {
			panels = append(panels, make([]*plot.Plot, cols))
		}
		p := newPanel(l.name(), "offered (req/s)", "HTTP latency from due (ms)")
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, ylo, yhi
		useLogX(p, lo)
		line(p, plotter.XYs{{X: lo, Y: slo}, {X: hi, Y: slo}}, greyMid, vg.Points(1), dotted)
		var p50, p99 plotter.XYs
		for _, s := range l.Run.Capacity.Judged() {
			if s.HTTPLatencyMS.Count == 0 || !positive(s.OfferedRPS) {
				continue
			}
			p50 = append(p50, plotter.XY{X: s.OfferedRPS, Y: max(s.HTTPLatencyMS.P50, ylo)})
			p99 = append(p99, plotter.XY{X: s.OfferedRPS, Y: max(s.HTTPLatencyMS.P99, ylo)})
		}
		c := l.Series.Color()
		points(p, p99, c, vg.Points(2), nil)
		points(p, p50, c, vg.Points(1), dashed)
		useLogY(p, ylo)
		panels[len(panels)-1][i%cols] = p
	}
	legend := []legendEntry{
		{"p99", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(2), nil)}},
		{"p50", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1), dashed)}},
		{fmt.Sprintf("SLO %s ms", num(slo)), []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1), dotted)}},
	}
	title := "Latency against offered rate: where each strategy's answers break"
	hockey := Chart{
		Name:  "capacity-latency",
		Title: title,
		Caption: gaps.caption("Each point is one step of the capacity ladder: an open-loop rate held long enough for " +
			"thousands of requests, HTTP latency timed from when each request was due. A strategy's curve " +
			"stays flat while it keeps up and turns up sharply where it stops (the hockey stick); the " +
			"ladder climbs until two steps in a row miss the dotted SLO or fall below 95 % of the " +
			"offered rate, then bisects between the last pass and the first failure. The baseline is a bare handler answering 202 after one LPUSH, the fastest " +
			"honest accept path on this machine."),
		Series: len(ls),
		fig: &figure{title: title, subtitle: subtitle(f.Env, runs), panels: panels, legend: legend,
			width: 11 * vg.Inch, height: vg.Length(1.2+2.6*float64(len(panels))) * vg.Inch},
	}

	p := newPanel("", "offered (req/s)", "delivered (jobs/s)")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, lo/2, hi
	useLogX(p, lo)
	line(p, plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}, greyMid, vg.Points(1), dotted)
	var legend2 []legendEntry
	drawn := 0
	for _, l := range ls {
		if l.Run.Capacity.MaxDeliveryRPS == nil {
			continue // the baseline delivers nothing
		}
		var xys plotter.XYs
		for _, s := range l.Run.Capacity.Judged() {
			if !positive(s.OfferedRPS) {
				continue
			}
			xys = append(xys, plotter.XY{X: s.OfferedRPS, Y: max(s.DeliveredRPS, lo/2)})
		}
		d := l.Series.vgDashes()
		if l.Run.Loop == "go" {
			d = loopDashes("go")
		}
		points(p, xys, l.Series.Color(), vg.Points(2), d)
		legend2 = append(legend2, legendEntry{l.name(), []plot.Thumbnailer{lineThumb(l.Series.Color(), vg.Points(2), d)}})
		drawn++
	}
	useLogY(p, lo/2)
	legend2 = append(legend2, legendEntry{"delivered = offered", []plot.Thumbnailer{lineThumb(greyMid, vg.Points(1), dotted)}})
	title2 := "Delivered against offered: where each strategy's deliveries fall behind"
	delivered := Chart{
		Name:  "capacity-delivered",
		Title: title2,
		Caption: gaps.caption("Jobs the mail sink received per second during each ladder step, against the rate offered. " +
			"On the dotted diagonal every accepted job is delivered as fast as it arrives; where a line " +
			"bends below it the backlog grows. Past that knee the ladder goes on measuring the answers " +
			"only, since taking more than the workers deliver is what a queue is for."),
		Series: drawn,
		fig: &figure{title: title2, subtitle: subtitle(f.Env, runs), panels: [][]*plot.Plot{{p}}, legend: legend2,
			width: 9 * vg.Inch, height: 5.5 * vg.Inch},
	}
	return []Chart{hockey, delivered}
}

func line(p *plot.Plot, xys plotter.XYs, c interface{ RGBA() (r, g, b, a uint32) }, w vg.Length, dashes []vg.Length) {
	if len(xys) < 2 {
		return
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return
	}
	l.LineStyle = draw.LineStyle{Color: c, Width: w, Dashes: dashes}
	p.Add(l)
}

func points(p *plot.Plot, xys plotter.XYs, c interface{ RGBA() (r, g, b, a uint32) }, w vg.Length, dashes []vg.Length) {
	if len(xys) == 0 {
		return
	}
	l, sc, err := plotter.NewLinePoints(xys)
	if err != nil {
		return
	}
	l.LineStyle = draw.LineStyle{Color: c, Width: w, Dashes: dashes}
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: w + vg.Points(1), Shape: draw.CircleGlyph{}}
	p.Add(l, sc)
}

// judgeCapacity names the series' knees: the accept figure with its ratio to
// the baseline and what broke, the delivery figure and what broke.
func (v *Verdict) judgeCapacity(f *results.File, runs []results.Run) {
	base, _ := baselineAccept(f)
	for _, r := range runs {
		if r.Scenario != "capacity" || r.NAReason != "" || r.Capacity == nil {
			continue
		}
		c := r.Capacity
		loop := ""
		if r.Loop != "" && r.Loop != "node" {
			loop = " (--loop " + r.Loop + ")"
		}
		accept := fmt.Sprintf("Answers kept up to %s req/s%s", atLeast(c, c.MaxAcceptRPS), loop)
		if r.Strategy != BaselineStrategy && base > 0 {
			accept += fmt.Sprintf(", %.2f× the baseline's %s", c.MaxAcceptRPS/base, num(base))
		}
		switch {
		case c.AcceptLimitedBy != "":
			accept += fmt.Sprintf("; the next step broke on %s: %s", c.AcceptLimitedBy, c.AcceptEvidence)
		case c.Ceiling:
			accept += "; no step failed, so this is a lower bound"
		}
		v.Knees = append(v.Knees, accept+".")
		if c.MaxDeliveryRPS != nil {
			d := fmt.Sprintf("Deliveries kept up to %s jobs/s%s", num(*c.MaxDeliveryRPS), loop)
			if first, peak, ok := deliveryFellBehindAtOnce(c); ok {
				d = fmt.Sprintf("Deliveries fell behind already at the first step, %s req/s%s, peaking at %s jobs/s; it broke on %s: %s",
					num(first), loop, num(peak), c.DeliveryLimitedBy, c.DeliveryEvidence)
			} else if c.DeliveryLimitedBy != "" {
				d += fmt.Sprintf("; the next step broke on %s: %s", c.DeliveryLimitedBy, c.DeliveryEvidence)
			} else {
				d = "Deliveries kept up at every step, to " + num(*c.MaxDeliveryRPS) + " jobs/s" + loop
			}
			if c.SaturatedDeliveryRPS > 0 {
				d += fmt.Sprintf("; flat out the senders delivered %s jobs/s with %s in flight, %s ms each (Little's law)",
					num(c.SaturatedDeliveryRPS), num(c.SaturatedInFlight), num(c.SaturatedServiceMS))
			}
			v.Knees = append(v.Knees, d+".")
		}
		if r.Strategy == BaselineStrategy || base <= 0 {
			continue
		}
		line := fmt.Sprintf("accepts %.2f× the baseline's %s req/s%s (goal: %s×)", c.MaxAcceptRPS/base, num(base), loop, num(AcceptShareMin))
		if c.MaxAcceptRPS >= AcceptShareMin*base {
			v.Better = append(v.Better, "Cheap to accept: "+line+".")
		} else {
			v.Bad = append(v.Bad, "Costly to accept: "+line+".")
		}
	}
}

// deliveryFigure is the delivery column: the highest rate whose deliveries
// kept up, "≥" when none failed, "–" when deliveries were never judged.
// When the first step already outran them there is no such rate, and a 0
// would read as "delivers nothing": the cell says "< first step", with the
// most the deliveries reached while saturated, which is their ceiling.
func deliveryFigure(c *results.Capacity) string {
	if c.MaxDeliveryRPS == nil {
		return "n/a"
	}
	if first, peak, ok := deliveryFellBehindAtOnce(c); ok {
		return fmt.Sprintf("< %s (peak %s)", num(first), num(peak)) + saturated(c)
	}
	switch {
	case *c.MaxDeliveryRPS == 0 && c.DeliveryLimitedBy == "":
		// The ladder stopped on its answers before deliveries were
		// judged at all: no figure, not a bound of zero.
		return "–"
	case c.DeliveryLimitedBy == "":
		return "≥ " + num(*c.MaxDeliveryRPS)
	}
	return num(*c.MaxDeliveryRPS) + saturated(c)
}

// saturated is the delivery cell's Little's law: the rate flat out, and the
// messages in flight × the time each took that make it.
func saturated(c *results.Capacity) string {
	if c.SaturatedDeliveryRPS <= 0 || c.SaturatedInFlight <= 0 {
		return ""
	}
	return fmt.Sprintf("; sat. %s = %s × %s ms", num(c.SaturatedDeliveryRPS), num(c.SaturatedInFlight), num(c.SaturatedServiceMS))
}

// deliveryFellBehindAtOnce reports whether the ladder's first step already
// failed on its deliveries, with that step's rate and the highest delivered
// rate any step saw.
func deliveryFellBehindAtOnce(c *results.Capacity) (first, peak float64, ok bool) {
	steps := c.Judged()
	if c.MaxDeliveryRPS == nil || *c.MaxDeliveryRPS != 0 || c.DeliveryLimitedBy == "" || len(steps) == 0 {
		return 0, 0, false
	}
	for _, s := range steps {
		peak = max(peak, s.DeliveredRPS)
	}
	return steps[0].OfferedRPS, peak, true
}
