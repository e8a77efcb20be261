package reports

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/offload/offload/results"
)

// zeroNumbers sets every number reachable from v to zero, keeping the
// structure (strategies, scenarios, steps) so that every chart is still
// built: the charts must draw a run whose lag, latency or rate is 0, as an
// external target's lag is.
func zeroNumbers(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zeroNumbers(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				zeroNumbers(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			zeroNumbers(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			zeroNumbers(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(0)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(0)
	}
}

// dropOptional empties every pointer, slice and map reachable from v below
// the runs themselves: a run with no percentiles, no steps, no series.
func dropOptional(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			if depth > 0 {
				v.Set(reflect.Zero(v.Type()))
				return
			}
			dropOptional(v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				dropOptional(v.Field(i), depth+1)
			}
		}
	case reflect.Slice, reflect.Map:
		if depth > 2 && !v.IsNil() {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// Every chart renders, without a panic, from results whose numbers are all
// zero, from runs with every optional part missing, from a lone external
// target and from an empty file.
func TestChartsSurviveZerosAndGaps(t *testing.T) {
	zeros := fixture(t)
	for i := range zeros.Runs {
		zeroNumbers(reflect.ValueOf(&zeros.Runs[i]).Elem())
	}
	gaps := fixture(t)
	for i := range gaps.Runs {
		dropOptional(reflect.ValueOf(&gaps.Runs[i]).Elem(), 0)
	}
	target := fixture(t)
	target.Env.Target = "http://127.0.0.1:3000"
	for i := range target.Runs {
		target.Runs[i].LagMS = results.Lag{}
		zeroNumbers(reflect.ValueOf(&target.Runs[i].HTTPLatencyMS).Elem())
	}
	cases := map[string]*results.File{
		"zeros":  zeros,
		"gaps":   gaps,
		"target": target,
		"empty":  {},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			rep, err := Render(dir, f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Charts {
				for _, ext := range []string{".png", ".svg"} {
					if st, err := os.Stat(filepath.Join(dir, c.Name+ext)); err != nil || st.Size() == 0 {
						t.Errorf("chart %s%s not written: %v", c.Name, ext, err)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "REPORT.md")); err != nil {
				t.Error(err)
			}
		})
	}
}

// A cpu run whose loop lag was never observed is left out of the lag chart
// and named in its caption, rather than drawn as a flat perfect loop.
func TestLagChartNamesAnUnobservedLoop(t *testing.T) {
	f := fixture(t)
	var victim *results.Run
	for i := range f.Runs {
		r := &f.Runs[i]
		if r.Scenario == "cpu" && measured(*r) && len(r.Timeseries) > 1 {
			victim = r
			break
		}
	}
	if victim == nil {
		t.Fatal("the fixture has no cpu run with a time series")
	}
	for i := range victim.Timeseries {
		victim.Timeseries[i].LagMaxMS = 0
	}
	c := lagChart(f)
	if c == nil {
		t.Fatal("no lag chart")
	}
	want := loopLabel(seriesOf(*victim).Label(), victim.Loop) + ", whose loop lag was not observed"
	if !strings.Contains(c.Caption, want) {
		t.Errorf("caption does not name the unobserved loop %q:\n%s", want, c.Caption)
	}
	if _, err := c.PNG(); err != nil {
		t.Fatal(err)
	}
}

// A panic inside a chart library becomes an error naming the chart.
func TestSafeRenderNamesTheChart(t *testing.T) {
	fg := &figure{title: "broken", width: 1, height: 1, panels: [][]*plot.Plot{{nil}}}
	fg.panels[0][0] = plot.New()
	fg.panels[0][0].Y.Scale = plot.LogScale{} // gonum's own: panics on a zero bound
	fg.panels[0][0].Y.Min, fg.panels[0][0].Y.Max = 0, 1
	l, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	fg.panels[0][0].Add(l)
	_, err := fg.safeRender("png", "broken-chart")
	if err == nil || !strings.Contains(err.Error(), "broken-chart") {
		t.Fatalf("err = %v, want an error naming broken-chart", err)
	}
}
