package reports

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/offload/offload/results"
)

// WriteCharts renders every chart into dir as NAME.png and NAME.svg and
// returns them.
func WriteCharts(dir string, f *results.File, opt Options) ([]Chart, error) {
	charts := Charts(f, opt)
	for _, c := range charts {
		for _, format := range []string{"png", "svg"} {
			b, err := c.fig.render(format)
			if err != nil {
				return nil, err
			}
			path := filepath.Join(dir, c.Name+"."+format)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return nil, fmt.Errorf("write chart: %w", err)
			}
		}
	}
	return charts, nil
}
