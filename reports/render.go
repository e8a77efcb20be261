package reports

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/offload/offload/results"
)

// Report names the files Render wrote, relative to its directory.
type Report struct {
	Dir      string
	Markdown string // REPORT.md
	HTML     string // report.html
	Charts   []Chart
}

// Render writes every chart (PNG and SVG), REPORT.md and report.html into
// dir. The output depends only on f and opt, so rendering the same results
// twice gives the same bytes.
func Render(dir string, f *results.File, opt Options) (*Report, error) {
	charts, err := WriteCharts(dir, f, opt)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dir: dir, Markdown: "REPORT.md", HTML: "report.html", Charts: charts}
	if err := os.WriteFile(filepath.Join(dir, rep.Markdown), Markdown(f, charts), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	page, err := HTML(f, charts)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, rep.HTML), page, 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	return rep, nil
}

// WriteCharts renders every chart into dir as NAME.png and NAME.svg.
func WriteCharts(dir string, f *results.File, opt Options) ([]Chart, error) {
	charts := Charts(f, opt)
	for _, c := range charts {
		for _, format := range []string{"png", "svg"} {
			b, err := c.fig.safeRender(format, c.Name)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, c.Name+"."+format), b, 0o644); err != nil {
				return nil, fmt.Errorf("write chart: %w", err)
			}
		}
	}
	return charts, nil
}
