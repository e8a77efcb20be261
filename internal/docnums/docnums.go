// Package docnums keeps the measured numbers in README.md and docs/ true.
// A page never types a measurement: it marks where one goes, and
// `make docs-numbers` fills it in from the curated bench results committed
// under docs/data/ (a copy of one full bench, raw histograms left out).
// `go test ./docs` fails when a page and the data disagree, so a number
// cannot drift from the run it claims to come from.
//
// Three markers, all HTML comments so that they vanish when rendered:
//
//	<!-- n:queue steady http_latency_ms.p99 -->6.0<!-- /n -->
//	<!-- stamp -->(date, commit, machine, command)<!-- /stamp -->
//	<!-- table:summary -->(a table)<!-- /table -->
//
// With repeats, a number is the median over them (lost and duplicates: the
// worst repeat), as REPORT.md shows it. A number's key is: strategy, scenario, a field path into that run's
// results.json entry (JSON names), then optional qualifiers loop=go,
// variant=transport=zmq, workers=4, and fmt=int|pct-of-accepted. "env"
// instead of a strategy reads the environment: env cores, env redis_version.
package docnums

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/reports"
	"github.com/offload/offload/results"
)

// DataFile is the curated results, relative to the module root.
const DataFile = "docs/data/results.json"

// Curate returns a copy of f small enough to commit: no raw histograms, no
// per-run time series; every summary figure stays. commit fills in the
// environment's git_sha when the bench could not tell it.
func Curate(f *results.File, commit string) *results.File {
	c := *f
	c.Runs = make([]results.Run, len(f.Runs))
	for i, r := range f.Runs {
		r.Histograms, r.Timeseries = "", nil
		c.Runs[i] = r
	}
	if c.Env.GitSHA == "" {
		c.Env.GitSHA = commit
	}
	return &c
}

// Stamp says where the numbers come from: date, commit, machine, command.
func Stamp(env results.Env) string {
	date := "unknown date"
	if !env.Start.IsZero() {
		date = env.Start.UTC().Format(time.DateOnly)
	}
	commit := env.GitSHA
	if len(commit) > 7 {
		commit = commit[:7]
	}
	if commit == "" {
		commit = "unknown"
	}
	machine := strings.TrimSpace(env.CPUModel)
	if env.Cores > 0 {
		machine = fmt.Sprintf("%s, %d cores", machine, env.Cores)
	}
	if env.OS != "" {
		machine += ", " + env.OS + "/" + env.Arch
	}
	if env.RedisVersion != "" {
		machine += ", redis " + env.RedisVersion
	}
	return fmt.Sprintf("measured %s, commit %s, %s, `%s`", date, commit, strings.TrimPrefix(machine, ", "), Command(env))
}

// Command is the bench command line as a reader would type it: the binary
// by its name, without where this run put its output.
func Command(env results.Env) string {
	if len(env.Flags) == 0 {
		return "offload bench"
	}
	args := []string{filepath.Base(env.Flags[0])}
	for i := 1; i < len(env.Flags); i++ {
		a := env.Flags[i]
		if a == "--out" || a == "-out" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--out=") || strings.HasPrefix(a, "-out=") {
			continue
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

// Value computes the number a key names.
func Value(f *results.File, key string) (string, error) {
	words := strings.Fields(key)
	if len(words) < 2 {
		return "", fmt.Errorf("key %q: want strategy scenario field [qualifiers], or env field", key)
	}
	if words[0] == "env" {
		return envValue(f.Env, words[1])
	}
	if len(words) < 3 {
		return "", fmt.Errorf("key %q: want strategy scenario field [qualifiers]", key)
	}
	want := map[string]string{"loop": "node", "variant": "", "workers": "", "fmt": ""}
	for _, q := range words[3:] {
		k, v, ok := strings.Cut(q, "=")
		if _, known := want[k]; !ok || !known {
			return "", fmt.Errorf("key %q: unknown qualifier %q (use loop=, variant=, workers=, fmt=)", key, q)
		}
		want[k] = v
	}
	var run *results.Run
	for i, r := range f.Runs {
		if r.Strategy != words[0] || r.Scenario != words[1] || r.Variant != want["variant"] {
			continue
		}
		if r.Loop != "" && r.Loop != want["loop"] {
			continue
		}
		if want["workers"] != "" && strconv.Itoa(r.Workers) != want["workers"] {
			continue
		}
		run = &f.Runs[i]
		break // the first repeat
	}
	if run == nil {
		return "", fmt.Errorf("key %q: no such run in the data", key)
	}
	if run.NAReason != "" {
		return "", fmt.Errorf("key %q: that run is n/a (%s)", key, run.NAReason)
	}
	v, err := field(*run, words[2])
	if err != nil {
		return "", fmt.Errorf("key %q: %w", key, err)
	}
	if !run.Valid && timingField(words[2]) {
		v = nil // an invalid run's counts stand, its timing does not
	}
	if v == nil {
		// Not measured in this run: timing refused as invalid, or a
		// recovery not seen within its bound. The tables show the same.
		return "–", nil
	}
	switch want["fmt"] {
	case "":
		if x, ok := v.(float64); ok {
			return reports.Number(x), nil
		}
		return fmt.Sprint(v), nil
	case "int":
		x, ok := v.(float64)
		if !ok {
			return "", fmt.Errorf("key %q: fmt=int of a %T", key, v)
		}
		return strconv.FormatFloat(x, 'f', 0, 64), nil
	case "pct-of-accepted":
		x, ok := v.(float64)
		if !ok {
			return "", fmt.Errorf("key %q: fmt=pct-of-accepted of a %T", key, v)
		}
		return reports.Percent(int64(x), run.Accepted), nil
	}
	return "", fmt.Errorf("key %q: unknown fmt %q (use int or pct-of-accepted)", key, want["fmt"])
}

// timingField reports whether path names a figure the instrument's
// validity covers (latency, lag, rates, recovery), as opposed to a count.
func timingField(path string) bool {
	for _, p := range []string{"http_latency_ms", "e2e_latency_ms", "service_latency_ms", "probe_latency_ms",
		"lag_ms", "sched_latency_ms", "throughput_rps", "recovery_s"} {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// field walks a dotted path of JSON names into r.
func field(r results.Run, path string) (any, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	for _, name := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("field %q: %q is not an object", path, name)
		}
		if v, ok = m[name]; !ok {
			return nil, fmt.Errorf("field %q: no %q in the run", path, name)
		}
	}
	return v, nil
}

func envValue(env results.Env, name string) (string, error) {
	switch name {
	case "cores":
		return strconv.Itoa(env.Cores), nil
	case "cpu_model":
		return env.CPUModel, nil
	case "redis_version":
		return env.RedisVersion, nil
	case "date":
		return env.Start.UTC().Format(time.DateOnly), nil
	case "commit":
		return env.GitSHA[:min(7, len(env.GitSHA))], nil
	case "command":
		return Command(env), nil
	case "minutes":
		if env.Start.IsZero() || env.End.IsZero() {
			return "", errors.New("env minutes: the data has no start or end time")
		}
		return strconv.Itoa(int(env.End.Sub(env.Start).Round(time.Minute).Minutes())), nil
	}
	return "", fmt.Errorf("env %q: use cores, cpu_model, redis_version, date, command or minutes", name)
}

// Tables are the generated tables a page can embed by name. Each gets the
// data as it is, repeats and all.
var Tables = map[string]func(*results.File) string{
	"summary": func(f *results.File) string { return reports.MarkdownTable(reports.SummaryTable(reports.Collapse(f))) },
	"capacity": func(f *results.File) string {
		t := reports.CapacityTable(f)
		if len(t.Rows) == 0 {
			return "*(This run has no capacity ladder: `offload bench --scenarios capacity` climbs one.)*\n"
		}
		return reports.MarkdownTable(t)
	},
	// The steady and cpu runs only: the headline figures' spread, short
	// enough for README (REPORT.md has every run's).
	"repeats-headline": func(f *results.File) string {
		t := reports.SpreadTable(f)
		rows := t.Rows[:0:0]
		for _, r := range t.Rows {
			if strings.HasPrefix(r[0].Text, "steady ") || strings.HasPrefix(r[0].Text, "cpu ") {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			return "*(This run has no repeats: `offload bench --repeat N` gives each headline figure's median and range.)*\n"
		}
		t.Rows = rows
		return reports.MarkdownTable(t)
	},
	"repeats": func(f *results.File) string {
		t := reports.SpreadTable(f)
		if len(t.Rows) == 0 {
			return "*(This run has no repeats: `offload bench --repeat N` gives each headline figure's median and range.)*\n"
		}
		return reports.MarkdownTable(t)
	},
}

var (
	numberRE = regexp.MustCompile(`<!-- n:([^>]*?) -->(.*?)<!-- /n -->`)
	stampRE  = regexp.MustCompile(`<!-- stamp -->(.*?)<!-- /stamp -->`)
	tableRE  = regexp.MustCompile(`(?s)<!-- table:([a-z-]+) -->\n(.*?)<!-- /table -->`)
)

// Render fills every marker of a page from f. It returns the page as it
// must read, and an error naming each marker it could not compute.
func Render(f *results.File, page string) (string, error) {
	var errs []error
	medians := reports.Collapse(f) // with repeats a number is their median, as in REPORT.md
	page = numberRE.ReplaceAllStringFunc(page, func(m string) string {
		key := numberRE.FindStringSubmatch(m)[1]
		v, err := Value(medians, key)
		if err != nil {
			errs = append(errs, err)
			return m
		}
		return "<!-- n:" + key + " -->" + v + "<!-- /n -->"
	})
	page = stampRE.ReplaceAllString(page, "<!-- stamp -->"+strings.ReplaceAll(Stamp(f.Env), "$", "$$")+"<!-- /stamp -->")
	page = tableRE.ReplaceAllStringFunc(page, func(m string) string {
		name := tableRE.FindStringSubmatch(m)[1]
		if _, ok := FileTables[name]; ok {
			return m // filled by RenderFiles, from its own file
		}
		t, ok := Tables[name]
		if !ok {
			errs = append(errs, fmt.Errorf("no table %q", name))
			return m
		}
		return "<!-- table:" + name + " -->\n" + t(f) + "<!-- /table -->"
	})
	return page, errors.Join(errs...)
}

// FileTables are tables filled from a data file of their own under
// docs/data/ rather than from the bench's results: a benchmark that is not
// part of `offload bench` (node-vs-model) commits its JSON there, with its
// command, commit and date inside, and the page shows it through this.
var FileTables = map[string]func(root string) (string, error){
	"placement": func(root string) (string, error) {
		p, err := results.ReadPlacement(filepath.Join(root, results.PlacementFile))
		if err != nil {
			return "", err
		}
		return reports.MarkdownTable(reports.PlacementTable(p)) + "\n*" + PlacementStamp(p) + "*\n", nil
	},
	"node-vs-model": func(root string) (string, error) {
		n, err := results.ReadNodeVsModel(filepath.Join(root, NodeVsModelFile))
		if err != nil {
			return "", err
		}
		return reports.MarkdownTable(reports.NodeVsModelTable(n)) + "\n*" + NodeVsModelStamp(n) + "*\n", nil
	},
}

// PlacementStamp says where the placement measurement comes from.
func PlacementStamp(p *results.Placement) string {
	if len(p.Splits) == 0 {
		return "no splits measured"
	}
	return fmt.Sprintf("%s; `make placement`: %s.", Stamp(p.Splits[0].Env), p.Command)
}

// NodeVsModelFile is `make node-vs-model`'s output, relative to the root.
const NodeVsModelFile = "docs/data/node-vs-model.json"

// NodeVsModelStamp says where the comparison comes from.
func NodeVsModelStamp(n *results.NodeVsModel) string {
	return fmt.Sprintf("%s; node %s, placement %s; accept: %s; sink: %s; queue: %s.",
		strings.Replace(Stamp(n.Env), "`"+Command(n.Env)+"`", "`make node-vs-model` ("+Command(n.Env)+")", 1),
		n.NodeVersion, n.Placement, n.Accept, n.Sink, n.Queue)
}

// RenderFiles fills the page's FileTables markers from their files under root.
func RenderFiles(root, page string) (string, error) {
	var errs []error
	page = tableRE.ReplaceAllStringFunc(page, func(m string) string {
		name := tableRE.FindStringSubmatch(m)[1]
		t, ok := FileTables[name]
		if !ok {
			return m
		}
		body, err := t(root)
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", name, err))
			return m
		}
		return "<!-- table:" + name + " -->\n" + body + "<!-- /table -->"
	})
	return page, errors.Join(errs...)
}

// Pages are the markdown files whose numbers are kept: README.md and
// everything under docs/, relative to root.
func Pages(root string) ([]string, error) {
	pages := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			pages = append(pages, p)
		}
		return err
	})
	return pages, err
}

// Diff is one page whose markers disagree with the data.
type Diff struct {
	Page  string
	Lines []string // "was → must be" for each line that differs
}

// Check renders every page under root and lists those that differ.
func Check(root string, f *results.File) ([]Diff, error) {
	var diffs []Diff
	err := eachStale(root, f, func(p, have, want string) error {
		diffs = append(diffs, Diff{Page: p, Lines: lineDiff(have, want)})
		return nil
	})
	return diffs, err
}

// Write renders every page under root in place and returns those it changed.
func Write(root string, f *results.File) ([]string, error) {
	var changed []string
	err := eachStale(root, f, func(p, _, want string) error {
		if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
			return err
		}
		changed = append(changed, p)
		return nil
	})
	return changed, err
}

// eachStale renders every page under root and calls fn for each whose
// text differs from what the data says it must be.
func eachStale(root string, f *results.File, fn func(page, have, want string) error) error {
	pages, err := Pages(root)
	if err != nil {
		return err
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, err := Render(f, string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if want, err = RenderFiles(root, want); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if want != string(b) {
			if err := fn(p, string(b), want); err != nil {
				return err
			}
		}
	}
	return nil
}

func lineDiff(have, want string) []string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	var out []string
	for i := 0; i < len(h) && i < len(w); i++ {
		if h[i] != w[i] {
			out = append(out, fmt.Sprintf("line %d: %s\n    must be: %s", i+1, h[i], w[i]))
		}
	}
	if len(h) != len(w) {
		out = append(out, fmt.Sprintf("%d lines, must be %d", len(h), len(w)))
	}
	return out
}

// measuredCell is a table cell that reads as a measurement: a number with
// a unit of time, rate or share.
var measureWord = regexp.MustCompile(`\b(p50|p90|p99|p99\.9|latency|lost|lag|recovery|throughput)\b`)

var measuredCell = regexp.MustCompile(`^\**[0-9][0-9.,]*\s*(ms|s|/s|req/s|jobs/s|%)\**$`)

// Unmarked lists the lines of page that hold measurements without a marker:
// rows of a table whose header names a percentile, latency or loss, with a
// cell such as "6.0 ms" typed in rather than filled from the data. A table
// is exempt when the paragraph before it says "illustrative". Code blocks
// are skipped (they are program output, handled as such).
func Unmarked(page string) []string {
	lines := strings.Split(page, "\n")
	var out []string
	inCode, inTable, exempt := false, false, false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		if !strings.HasPrefix(t, "|") {
			inTable = false
			continue
		}
		if !inTable {
			inTable = true
			// The whole table decides: a measurement word in its header
			// or in a row's first cell (a p50 / p90 / p99 column).
			var text []string
			for j := i; j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "|"); j++ {
				cells := strings.Split(strings.TrimSpace(lines[j]), "|")
				if j == i {
					text = append(text, lines[j])
				} else if len(cells) > 1 {
					text = append(text, cells[1])
				}
			}
			table := strings.ToLower(strings.Join(text, " "))
			measured := measureWord.MatchString(table)
			above := strings.ToLower(strings.Join(lines[max(0, i-8):i], " "))
			// A table between table markers is written from the data.
			generated := i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "<!-- table:")
			exempt = !measured || generated || strings.Contains(above, "illustrative")
			continue
		}
		if exempt {
			continue
		}
		for _, cell := range strings.Split(t, "|") {
			if measuredCell.MatchString(strings.TrimSpace(cell)) {
				out = append(out, fmt.Sprintf("line %d: %s", i+1, t))
				break
			}
		}
	}
	return out
}
