package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/reports"
	"github.com/offload/offload/results"
)

// runReport is `offload report DIR [--baseline DIR0]`: re-render every
// chart, REPORT.md and report.html from DIR/results.json and the raw
// histograms beside it, without re-running anything; with --baseline,
// also print what changed since DIR0.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("report", stderr)
	baseline := fs.String("baseline", "", "a previous bench's directory: print the changes beyond run-to-run noise")
	flags, dirs := splitArgs(fs, args)
	if err := cli.Parse(fs, flags); err != nil {
		return err
	}
	if len(dirs) != 1 {
		return cli.Usagef("report: give one directory holding results.json, e.g. offload report out/latest")
	}
	dir := dirs[0]
	f, err := results.Read(filepath.Join(dir, "results.json"))
	if err != nil {
		return cli.Usage(err)
	}
	if err := renderReport(dir, f, stdout); err != nil {
		return err
	}
	if *baseline == "" {
		return nil
	}
	return compareDirs(*baseline, dir, false, stdout)
}

// runCompare is `offload compare DIR1 DIR2`: the figures of DIR2 against
// the baseline DIR1, flagging changes beyond run-to-run noise.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("compare", stderr)
	all := fs.Bool("all", false, "list every figure, not only those beyond noise")
	flags, dirs := splitArgs(fs, args)
	if err := cli.Parse(fs, flags); err != nil {
		return err
	}
	if len(dirs) != 2 {
		return cli.Usagef("compare: give two bench directories, the baseline first: offload compare out/A out/B")
	}
	return compareDirs(dirs[0], dirs[1], *all, stdout)
}

// splitArgs separates the directories from the flags, wherever they stand
// on the command line (cli.Parse takes flags only).
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(positional, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func compareDirs(base, next string, all bool, stdout io.Writer) error {
	a, err := results.Read(filepath.Join(base, "results.json"))
	if err != nil {
		return cli.Usage(err)
	}
	b, err := results.Read(filepath.Join(next, "results.json"))
	if err != nil {
		return cli.Usage(err)
	}
	fmt.Fprintf(stdout, "%s against the baseline %s:\n\n", next, base)
	reports.WriteComparison(stdout, reports.Compare(a, b), all, reports.IsTerminal(stdout))
	return nil
}

// renderReport is called by `offload bench` once results.json and
// results.csv are written, and by `offload report`: it renders charts,
// REPORT.md and report.html into dir, then prints the summary table and
// where the report is.
func renderReport(dir string, f *results.File, stdout io.Writer) error {
	closeLiveView()
	rep, err := reports.Render(dir, f, reports.Options{Quantiles: reports.HistogramQuantiles(dir)})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	reports.WriteTable(stdout, f, reports.IsTerminal(stdout))
	fmt.Fprintf(stdout, "\nreport: %s (%d charts; %s)\n", filepath.Join(dir, rep.HTML), len(rep.Charts),
		filepath.Join(dir, rep.Markdown))
	return nil
}

// The live view of the bench under way: bars on a terminal, paced log lines
// otherwise. renderReport closes it so the table prints below the bars.
var (
	liveMu sync.Mutex
	live   *reports.Live
)

// liveView returns the progress callback offload bench hands the harness.
func liveView(stdout io.Writer) func(results.Progress) {
	liveMu.Lock()
	defer liveMu.Unlock()
	live = reports.NewLive(stdout, reports.IsTerminal(stdout), nil)
	return live.Update
}

// closeLiveView stops drawing; safe when there is none and safe twice.
func closeLiveView() {
	liveMu.Lock()
	defer liveMu.Unlock()
	if live != nil {
		live.Close()
		live = nil
	}
}

// liveLog is where the harness should log while the live view draws: above
// the bars on a terminal (so lines do not tear them), else stderr as before.
func liveLog(stderr io.Writer) io.Writer {
	liveMu.Lock()
	defer liveMu.Unlock()
	if live != nil && live.Drawing() {
		return live.Log()
	}
	return stderr
}
