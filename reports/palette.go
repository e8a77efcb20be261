package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"slices"
	"strings"

	"github.com/offload/offload/results"
)

var (
	otherColor = color.NRGBA{0x33, 0x33, 0x33, 0xFF} // a run that carries no style (an external target, an old file)
	greyLight  = color.NRGBA{0xE4, 0xE4, 0xE4, 0xFF} // fault windows
	greyMid    = color.NRGBA{0x88, 0x88, 0x88, 0xFF} // reference lines: offered rate, thresholds
)

// scenarioOrder puts the baseline first and the faults in a fixed order.
var scenarioOrder = []string{"steady", "cpu", "burst", "worker-crash", "web-crash", "broker-restart", "broker-failover", "partition", "mail-outage", "capacity", "scale"}

// unstyled sorts runs without a style after every styled one.
const unstyled = 1 << 20

// rank orders names by a known order, then unknown names alphabetically.
func rank(order []string) func(a, b string) int {
	return func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	}
}

// Series is one line in a chart: a strategy, possibly in a variant of its
// own (transport=zmq). Variants that describe the scenario instead (the
// loop model, the number of workers) are not part of it. Its place and
// look come from the run's style, which the harness copied from the
// strategy catalog.
type Series struct {
	Strategy string
	Variant  string
	order    int
	label    string
	color    color.NRGBA
	dash     [2]float64 // zero: solid
}

// Label is how a series is named in legends and tables.
func (s Series) Label() string {
	switch {
	case s.label != "":
		return s.label
	case s.Variant == "":
		return s.Strategy
	}
	return s.Strategy + " (" + s.Variant + ")"
}

// Color is the series' colour in every chart.
func (s Series) Color() color.NRGBA { return s.color }

func seriesOf(r results.Run) Series {
	s := Series{Strategy: r.Strategy, Variant: strategyVariant(r.Variant), order: unstyled, color: otherColor}
	if st := r.Style; st != nil {
		s.order, s.label = st.Order, st.Label
		if c, ok := parseColor(st.Color); ok {
			s.color = c
		}
		copy(s.dash[:], st.Dash)
	}
	return s
}

// parseColor reads "#rrggbb".
func parseColor(hex string) (color.NRGBA, bool) {
	var c color.NRGBA
	if len(hex) != 7 || hex[0] != '#' {
		return c, false
	}
	if _, err := fmt.Sscanf(hex[1:], "%02x%02x%02x", &c.R, &c.G, &c.B); err != nil {
		return c, false
	}
	c.A = 0xFF
	return c, true
}

// strategyVariant drops the parts of a variant that describe the scenario.
func strategyVariant(v string) string {
	// The harness separates parts with spaces ("transport=zmq workers=2");
	// commas are accepted too.
	var keep []string
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if strings.HasPrefix(part, "loop=") || strings.HasPrefix(part, "workers=") {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, " ")
}

func compareSeries(a, b Series) int {
	if c := cmp.Compare(a.order, b.order); c != 0 {
		return c
	}
	if c := strings.Compare(a.Strategy, b.Strategy); c != 0 {
		return c
	}
	return strings.Compare(a.Variant, b.Variant)
}

// allSeries lists every series in the file, in talk order.
func allSeries(f *results.File) []Series {
	var out []Series
	for _, r := range f.Runs {
		if s := seriesOf(r); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, compareSeries)
	return out
}

// dashes tells variants of one strategy apart in line charts (the colour
// stays the strategy's).
func (s Series) dashes() []float64 {
	if s.dash == [2]float64{} {
		return nil
	}
	return s.dash[:]
}

// fill is the colour a series' bars take: the strategy's own, or for a
// variant (transport=zmq) the same hue lightened, since bars have no dash
// pattern to tell the two apart.
func (s Series) fill() color.NRGBA {
	c := s.color
	if s.Variant == "" {
		return c
	}
	tint := func(v uint8) uint8 { return uint8(int(v) + (255-int(v))*55/100) }
	return color.NRGBA{tint(c.R), tint(c.G), tint(c.B), c.A}
}
