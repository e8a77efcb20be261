package main

import (
	"context"
	"errors"
	"io"

	"github.com/offload/offload/results"
)

// runReport is `offload report DIR`: re-render charts and report from
// DIR/results.json. (The reports engineer fills this in.)
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("report: not built yet (issue 7)")
}

// renderReport is called by `offload bench` once results.json and
// results.csv are written; it renders charts and the report into dir.
// Stub: the reports engineer replaces its body.
func renderReport(dir string, f *results.File, stdout io.Writer) error { return nil }

// liveView returns the terminal's live view of a bench, or nil for the
// plain one-line-per-phase log on stderr. Stub for the reports engineer.
func liveView(stdout io.Writer) func(results.Progress) { return nil }
