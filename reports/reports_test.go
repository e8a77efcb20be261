package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"gonum.org/v1/plot/vg"

	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func fixture(t *testing.T) *results.File {
	t.Helper()
	f, err := results.Read(filepath.Join("testdata", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./reports -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestSummaryTableGolden(t *testing.T) {
	var b strings.Builder
	writeMarkdownTable(&b, SummaryTable(fixture(t)), true)
	golden(t, "summary.md", []byte(b.String()))
}

func TestVerdictsGolden(t *testing.T) {
	var b strings.Builder
	for _, v := range Verdicts(fixture(t)) {
		b.WriteString("## " + v.Series.Label() + "\n")
		for _, s := range v.Better {
			b.WriteString("+ " + s + "\n")
		}
		for _, s := range v.Bad {
			b.WriteString("- " + s + "\n")
		}
		for _, s := range v.NotMeasured {
			b.WriteString("? " + s + "\n")
		}
		for _, s := range v.Knees {
			b.WriteString("^ " + s + "\n")
		}
	}
	golden(t, "verdicts.txt", []byte(b.String()))
}

func TestTerminalTableGolden(t *testing.T) {
	var plain, color bytes.Buffer
	WriteTable(&plain, fixture(t), false)
	WriteTable(&color, fixture(t), true)
	golden(t, "table.txt", plain.Bytes())
	if !strings.Contains(color.String(), red+"1,023 (13.5%)"+reset) {
		t.Errorf("losses are not red on a terminal:\n%s", color.String())
	}
	if !strings.Contains(color.String(), red+"0.50×"+reset) {
		t.Errorf("an accept figure below 0.8× the baseline is not red on a terminal:\n%s", color.String())
	}
}

// The verdicts the report must state, sentence by sentence.
func TestVerdictsCarryTheLessons(t *testing.T) {
	byName := map[string]Verdict{}
	for _, v := range Verdicts(fixture(t)) {
		byName[v.Series.Label()] = v
	}
	for _, tc := range []struct {
		strategy, want string
		bad            bool
	}{
		{"foreground", "Blocks the web loop: lag max 97.4 ms under the cpu scenario (threshold: 10 ms)", true},
		{"fireforget", "Lost 23 of 3,600 accepted jobs (0.6%) when the web process was killed.", true},
		{"localipc", "Lost 37 of 4,000 accepted jobs (0.9%) when the worker was killed.", true},
		{"pubsub", "Delivered 16,000 duplicates (100% of 16,000 accepted jobs) with 2 workers in the scale scenario.", true},
		{"queue", "Keeps the web loop free: lag max 2.1 ms under the cpu scenario (threshold: 10 ms).", false},
		{"eventbus", "Lost none of the jobs it accepted: 4,000 when the worker was killed", false},
	} {
		list := byName[tc.strategy].Better
		if tc.bad {
			list = byName[tc.strategy].Bad
		}
		found := false
		for _, s := range list {
			found = found || strings.HasPrefix(s, tc.want)
		}
		if !found {
			t.Errorf("%s: no sentence starting %q in %q", tc.strategy, tc.want, list)
		}
	}
}

// Every chart is written, decodes, has the expected size and draws the
// expected number of series.
func TestChartsRender(t *testing.T) {
	dir := t.TempDir()
	rep, err := Render(dir, fixture(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"spectrum-steady": 6, "spectrum-cpu": 6, "spectrum-cpu-loop-go": 6, "spectrum-burst": 6,
		"spectrum-worker-crash": 4, "spectrum-web-crash": 6, "spectrum-broker-restart": 3, "spectrum-mail-outage": 6,
		"timeline-worker-crash": 4, "timeline-web-crash": 6, "timeline-broker-restart": 3, "timeline-mail-outage": 6,
		"lag-cpu": 12, "loss-duplicates": 6, "recovery": 6, "cost": 6, "scale": 4,
		"capacity-latency": 7, "capacity-delivered": 6, // the baseline delivers nothing
	}
	got := map[string]int{}
	for _, c := range rep.Charts {
		got[c.Name] = c.Series
		checkPNG(t, filepath.Join(dir, c.Name+".png"), c)
		checkSVG(t, filepath.Join(dir, c.Name+".svg"))
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("chart %s: %d series, want %d", name, got[name], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("charts %v, want %d of them", got, len(want))
	}
}

func checkPNG(t *testing.T, path string, c Chart) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	wantW := int(float64(c.fig.width/vg.Inch)*pngDPI + 0.5)
	if w := img.Bounds().Dx(); w != wantW || len(b) < 20_000 {
		t.Errorf("%s: %d px wide (want %d), %d bytes", path, w, wantW, len(b))
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	paths := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			paths++
		}
	}
	if paths < 20 {
		t.Errorf("%s: %d paths, not a real chart", path, paths)
	}
}

// report.html is one file: every chart inline, no external request, every
// strategy present.
func TestHTMLSelfContained(t *testing.T) {
	f := fixture(t)
	charts := Charts(f, Options{})
	page, err := HTML(f, charts)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var svgs int
	strategies := map[string]bool{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "svg":
				svgs++
			case "img", "script", "link", "iframe", "object":
				t.Errorf("external or active element <%s> in report.html", n.Data)
			}
			for _, a := range n.Attr {
				if (a.Key == "href" || a.Key == "src") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s %s=%q>: the report must not load anything", n.Data, a.Key, a.Val)
				}
				if a.Key == "data-strategy" {
					strategies[a.Val] = true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if svgs != len(charts) {
		t.Errorf("%d inline SVGs, want %d", svgs, len(charts))
	}
	for _, s := range catalog.Names() {
		if !strategies[s] {
			t.Errorf("strategy %s has no verdict in report.html", s)
		}
	}
	if bytes.Contains(page, []byte("http://")) && !bytes.Contains(page, []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
		t.Error("report.html mentions an http:// address")
	}
}

// Rendering the same results twice gives the same bytes: `offload report`
// reproduces what `offload bench` wrote.
func TestRenderIsDeterministic(t *testing.T) {
	f := fixture(t)
	a, b := t.TempDir(), t.TempDir()
	if _, err := Render(a, f, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(b, f, Options{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(a)
	for _, e := range entries {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two renders of the same results", e.Name())
		}
	}
	if len(entries) < 30 {
		t.Errorf("only %d files rendered", len(entries))
	}
}
