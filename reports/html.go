package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"regexp"
	"strings"

	"github.com/offload/offload/results"
)

// HTML renders report.html: one file, no external requests, every chart an
// inline SVG; the same content as REPORT.md, laid out for a laptop screen
// and for print.
func HTML(f *results.File, charts []Chart) ([]byte, error) {
	type chartView struct {
		Chart
		SVG template.HTML
	}
	type verdictView struct {
		Verdict
		Color string
	}
	data := struct {
		Env, Summary, Runs Table
		Spread             Table // repeats: median and range
		Capacity           Table
		CapacityNote       string
		Thresholds         []string
		Verdicts           []verdictView
		Charts             []chartView
		CostScenario       string
	}{
		Env: EnvTable(f.Env), Summary: SummaryTable(Collapse(f)), Runs: RunsTable(f), Spread: SpreadTable(f),
		Capacity: CapacityTable(f), CapacityNote: capacityNote,
		Thresholds: Thresholds(), CostScenario: costKey(f),
	}
	f = Collapse(f) // verdicts read the medians of repeats
	for _, v := range Verdicts(f) {
		c := v.Series.Color()
		data.Verdicts = append(data.Verdicts, verdictView{v, fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)})
	}
	for _, c := range charts {
		svg, err := c.SVG()
		if err != nil {
			return nil, err
		}
		data.Charts = append(data.Charts, chartView{c, template.HTML(inlineSVG(svg, c.Title))})
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render report.html: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	xmlProlog  = regexp.MustCompile(`(?s)^.*?<svg`)
	svgSize    = regexp.MustCompile(`^<svg width="[^"]*" height="[^"]*"`)
	titleEntry = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
)

// inlineSVG makes a vgsvg document embeddable: no XML prolog, a size that
// follows the page (the viewBox keeps the proportions), and a title for
// screen readers.
func inlineSVG(svg []byte, title string) string {
	s := xmlProlog.ReplaceAllString(string(svg), "<svg")
	s = svgSize.ReplaceAllString(s, `<svg class="chart" role="img" aria-label="`+titleEntry.Replace(title)+`"`)
	return s
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>offload bench report</title>
<style>
  :root { --ink: #1d1d1f; --muted: #5f6368; --rule: #d9d9de; --bad: #b3261e; --badbg: #fdecea; }
  * { box-sizing: border-box; }
  body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; color: var(--ink); margin: 0 auto;
         max-width: 1180px; padding: 24px 28px 64px; line-height: 1.45; font-size: 15px; }
  h1 { font-size: 28px; margin: 0 0 4px; }
  h2 { font-size: 21px; margin: 36px 0 12px; border-bottom: 2px solid var(--rule); padding-bottom: 4px; }
  h3 { font-size: 17px; margin: 22px 0 8px; }
  p.lead { color: var(--muted); margin-top: 0; }
  table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13.5px; }
  th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; }
  th { font-weight: 600; background: #f4f4f6; vertical-align: bottom; white-space: normal; }
  td:first-child, th:first-child { text-align: left; }
  td.bad { color: var(--bad); background: var(--badbg); font-weight: 600; }
  table.env td { text-align: left; white-space: normal; }
  table.env td:first-child { color: var(--muted); }
  .scroll { overflow-x: auto; }
  .verdicts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px 24px; }
  .verdict { border-left: 6px solid var(--c); padding: 2px 0 2px 14px; break-inside: avoid; }
  .verdict h3 { margin-top: 6px; }
  .verdict h4 { font-size: 14px; margin: 8px 0 2px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
  .verdict ul { margin: 0; padding-left: 18px; }
  .verdict li.bad::marker { color: var(--bad); }
  figure { margin: 18px 0 30px; break-inside: avoid; }
  figcaption { color: var(--muted); margin: 6px 0 0; max-width: 900px; }
  svg.chart { width: 100%; height: auto; display: block; }
  ul.thresholds { color: var(--muted); font-size: 14px; }
  @media print {
    body { max-width: none; padding: 0; font-size: 11pt; }
    h2 { break-after: avoid; }
    .verdicts { grid-template-columns: 1fr 1fr; }
    figure { page-break-inside: avoid; }
    .scroll { overflow: visible; }
    table { font-size: 9pt; }
  }
</style>
</head>
<body>
<h1>offload bench report</h1>
<p class="lead">How should a web server get slow work (sending an email) off its request path? Six strategies,
the same load, the same faults; every figure below is measured in this run.</p>

<h2>Environment</h2>
<table class="env">{{range .Env.Rows}}<tr>{{range .}}<td>{{.Text}}</td>{{end}}</tr>{{end}}</table>

<h2>Summary</h2>
<div class="scroll"><table class="summary">
<tr>{{range .Summary.Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Summary.Rows}}<tr>{{range .}}<td{{if .Bad}} class="bad"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</table></div>
<p>HTTP and end-to-end p99 from the steady scenario, timed from when each request was due; lag from the cpu
scenario under the node loop; losses and recovery over every fault scenario; cost from the {{.CostScenario}}
scenario. Highlighted cells fail a threshold; – means not measured or not valid (see each verdict's
"Not measured").</p>
<ul class="thresholds">{{range .Thresholds}}<li>{{.}}</li>{{end}}</ul>

{{if .Capacity.Rows}}<h2>Capacity</h2>
<div class="scroll"><table class="capacity">
<tr>{{range .Capacity.Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Capacity.Rows}}<tr>{{range .}}<td{{if .Bad}} class="bad"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</table></div>
<p>{{.CapacityNote}}</p>
{{end}}
<h2>Verdicts</h2>
<div class="verdicts">
{{range .Verdicts}}<section class="verdict" style="--c: {{.Color}}" data-strategy="{{.Series.Label}}">
<h3>{{.Series.Label}}</h3>
{{if .Better}}<h4>Why it is better</h4><ul>{{range .Better}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Bad}}<h4>Why it is still a bad idea</h4><ul>{{range .Bad}}<li class="bad">{{.}}</li>{{end}}</ul>{{end}}
{{if .Knees}}<h4>Where it breaks</h4><ul>{{range .Knees}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .NotMeasured}}<h4>Not measured</h4><ul>{{range .NotMeasured}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>
{{end}}</div>

<h2>Charts</h2>
{{range .Charts}}<figure id="{{.Name}}">
{{.SVG}}
<figcaption><strong>{{.Title}}.</strong> {{.Caption}}</figcaption>
</figure>
{{end}}
{{if .Spread.Rows}}<h2>Repeats</h2>
<p>Each run was repeated, interleaved round-robin over the plan. The figures above are medians over the valid
repeats (lost and duplicates: the worst repeat); here is how far apart the repeats were.</p>
<div class="scroll"><table>
<tr>{{range .Spread.Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Spread.Rows}}<tr>{{range .}}<td{{if .Bad}} class="bad"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</table></div>{{end}}
<h2>Every run</h2>
<div class="scroll"><table class="runs">
<tr>{{range .Runs.Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Runs.Rows}}<tr>{{range .}}<td{{if .Bad}} class="bad"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</table></div>
</body>
</html>
`))
