package reports

import (
	"image/color"
	"slices"
	"strings"

	"github.com/offload/offload/results"
)

// Colours are Okabe and Ito's palette, chosen to stay distinguishable with
// the common kinds of colour blindness. Each strategy keeps its colour in
// every chart; yellow is left out because it vanishes on white.
var strategyColors = map[string]color.NRGBA{
	"foreground": {0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	"fireforget": {0xE6, 0x9F, 0x00, 0xFF}, // orange
	"localipc":   {0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	"pubsub":     {0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	"queue":      {0x00, 0x72, 0xB2, 0xFF}, // blue
	"eventbus":   {0x00, 0x9E, 0x73, 0xFF}, // bluish green
}

var (
	otherColor = color.NRGBA{0x33, 0x33, 0x33, 0xFF} // a strategy this palette does not know
	greyLight  = color.NRGBA{0xE4, 0xE4, 0xE4, 0xFF} // fault windows
	greyMid    = color.NRGBA{0x88, 0x88, 0x88, 0xFF} // reference lines: offered rate, thresholds
)

// talkOrder is the order the talk presents the strategies in; reports keep
// it so a reader moves from the worst idea to the best one.
var talkOrder = []string{"foreground", "fireforget", "localipc", "pubsub", "queue", "eventbus"}

// scenarioOrder puts the baseline first and the faults in a fixed order.
var scenarioOrder = []string{"steady", "cpu", "burst", "worker-crash", "web-crash", "broker-restart", "mail-outage", "scale"}

// StrategyColor is the strategy's colour in every chart.
func StrategyColor(strategy string) color.NRGBA {
	if c, ok := strategyColors[strategy]; ok {
		return c
	}
	return otherColor
}

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
// loop model, the number of workers) are not part of it.
type Series struct {
	Strategy string
	Variant  string
}

// Label is how a series is named in legends and tables.
func (s Series) Label() string {
	if s.Variant == "" {
		return s.Strategy
	}
	return s.Strategy + " (" + s.Variant + ")"
}

func seriesOf(r results.Run) Series {
	return Series{Strategy: r.Strategy, Variant: strategyVariant(r.Variant)}
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
	if c := rank(talkOrder)(a.Strategy, b.Strategy); c != 0 {
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
	if s.Variant == "" {
		return nil
	}
	return []float64{2, 2}
}

// fill is the colour a series' bars take: the strategy's own, or for a
// variant (transport=zmq) the same hue lightened, since bars have no dash
// pattern to tell the two apart.
func (s Series) fill() color.NRGBA {
	c := StrategyColor(s.Strategy)
	if s.Variant == "" {
		return c
	}
	tint := func(v uint8) uint8 { return uint8(int(v) + (255-int(v))*55/100) }
	return color.NRGBA{tint(c.R), tint(c.G), tint(c.B), c.A}
}
