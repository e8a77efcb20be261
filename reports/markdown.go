package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/offload/offload/results"
)

// EnvTable is what the numbers were measured on, as label/value rows.
func EnvTable(env results.Env) Table {
	t := Table{Header: []string{"", ""}}
	add := func(k, v string) {
		if v != "" {
			t.Rows = append(t.Rows, cells(k, v))
		}
	}
	add("command", strings.Join(env.Flags, " "))
	add("offload", env.GitSHA)
	add("go", env.GoVersion)
	cpu := env.CPUModel
	if env.Cores > 0 {
		cpu = fmt.Sprintf("%s (%d cores)", cpu, env.Cores)
	}
	add("machine", strings.TrimSpace(cpu))
	add("host", env.Hostname)
	if env.Placement != "" {
		add("cpus", placementLine(env.Placement))
	}
	add("redis", env.RedisVersion)
	add("target", env.Target)
	add("seed", fmt.Sprint(env.Seed))
	if !env.Start.IsZero() {
		add("started", env.Start.UTC().Format(time.RFC3339))
	}
	if !env.End.IsZero() && !env.Start.IsZero() {
		add("took", env.End.Sub(env.Start).Round(time.Second).String())
	}
	if env.Quick {
		add("mode", "--quick: short phases, numbers are indicative")
	}
	return t
}

// Markdown renders REPORT.md. Charts are referenced by file name, beside it.
func Markdown(f *results.File, charts []Chart) []byte {
	var b strings.Builder
	b.WriteString("# offload bench report\n\n")
	b.WriteString("How should a web server get slow work (sending an email) off its request path? ")
	b.WriteString("Six strategies, the same load, the same faults; every figure below is measured in this run.\n\n")
	b.WriteString("## Environment\n\n")
	writeMarkdownTable(&b, EnvTable(f.Env), false)
	all := f
	f = Collapse(f) // with repeats, every figure but the last table is a median
	b.WriteString("\n## Summary\n\n")
	writeMarkdownTable(&b, SummaryTable(f), true)
	b.WriteString("\nHTTP and end-to-end p99 from the steady scenario, timed from when each request was due; ")
	b.WriteString("lag from the cpu scenario under the node loop; losses and recovery over every fault scenario; ")
	b.WriteString("cost from the " + costKey(f) + " scenario. **Bold** marks what fails a threshold; " +
		"– means not measured or not valid (see each verdict's \"Not measured\"); " +
		"\\* marks counts that include runs whose timing was invalid (their counts are exact). " +
		"A run's timing is invalid when the generator's send-delay p99 (due -> written, waits for a free " +
		"connection left out) exceeds max(1 ms, a tenth of the run's own HTTP p99): beyond that it could " +
		"have moved the p99 by more than 10 %; the same rule judges every capacity step.\n\n")
	b.WriteString("Thresholds:\n\n")
	for _, t := range Thresholds() {
		b.WriteString("- " + t + "\n")
	}
	if t := CapacityTable(f); len(t.Rows) > 0 {
		b.WriteString("\n## Capacity\n\n")
		writeMarkdownTable(&b, t, true)
		b.WriteString("\n" + capacityNote + "\n")
	}
	if t := DurabilityTable(f); len(t.Rows) > 0 {
		b.WriteString("\n## Durability under a failover\n\n")
		writeMarkdownTable(&b, t, true)
		b.WriteString("\n" + durabilityNote + "\n")
	}
	b.WriteString("\n## Verdicts\n\n")
	for _, v := range Verdicts(f) {
		fmt.Fprintf(&b, "### %s\n\n", v.Series.Label())
		writeList(&b, "Why it is better", v.Better)
		writeList(&b, "Why it is still a bad idea", v.Bad)
		writeList(&b, "Where it breaks", v.Knees)
		writeList(&b, "Not measured", v.NotMeasured)
	}
	b.WriteString("## Charts\n\n")
	for _, c := range charts {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n![%s](%s.png)\n\n([SVG](%s.svg))\n\n", c.Title, c.Caption, c.Title, c.Name, c.Name)
	}
	if spread := SpreadTable(all); len(spread.Rows) > 0 {
		b.WriteString("## Repeats\n\n")
		b.WriteString("Each run was repeated, interleaved round-robin over the plan. The figures above are medians over the valid repeats " +
			"(lost and duplicates: the worst repeat); here is how far apart the repeats were.\n\n")
		writeMarkdownTable(&b, spread, true)
		b.WriteString("\n")
	}
	b.WriteString("## Every run\n\n")
	writeMarkdownTable(&b, RunsTable(all), true)
	return []byte(b.String())
}

func writeList(b *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(b, "**%s**\n\n", title)
	for _, s := range items {
		b.WriteString("- " + s + "\n")
	}
	b.WriteString("\n")
}

func writeMarkdownTable(b *strings.Builder, t Table, header bool) {
	row := func(cs []string) {
		b.WriteString("| " + strings.Join(cs, " | ") + " |\n")
	}
	h := t.Header
	if !header {
		h = make([]string, len(t.Header))
	}
	row(h)
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---"
		if i > 0 && header {
			sep[i] = "---:"
		}
	}
	row(sep)
	for _, r := range t.Rows {
		cs := make([]string, len(r))
		for i, c := range r {
			cs[i] = strings.ReplaceAll(c.Text, "|", `\|`)
			if c.Bad {
				cs[i] = "**" + cs[i] + "**"
			}
		}
		row(cs)
	}
}

// placementLine reads results.json's placement for a person.
func placementLine(p string) string {
	if p == "off" {
		return "off: nothing pinned, every process wherever the scheduler put it"
	}
	load, sut, _ := strings.Cut(p, "/")
	return fmt.Sprintf("%s: the bench (generator and mail sink) on cpu %s, every process it measures on cpu %s (--cpus)", p, load, sut)
}
