package main

import (
	"context"
	"errors"
	"io"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("bench: the load harness is not built yet (issue 6); `make bench` runs the Go benchmarks meanwhile")
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("report: not built yet (issue 7)")
}
