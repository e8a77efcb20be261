package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/workshop"
)

// errNotYet is exit 1 with the hint already printed.
var errNotYet = errors.New("not there yet")

// runExercise is `offload exercise list`, `offload exercise start N` and
// `offload exercise check N`: the workshop's self-checks (docs/workshop/).
func runExercise(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("exercise", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "the server the run-only checks look at (exercises 1, 2)")
	addr2 := fs.String("addr2", "127.0.0.1:8081", "exercise 1's second server (fireforget)")
	out := fs.String("out", "out", "where offload bench wrote its results (exercises 4, 7)")
	strategy := fs.String("strategy", "seventh", "exercise 8's strategy, by its name in strategies/catalog")
	verbose := fs.Bool("v", false, "print what the check measures as it goes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: offload exercise list\n       offload exercise start N [--out DIR]   (exercises 4 and 7 count only bench runs made after it)\n       offload exercise check N [flags]   (or: make exercise N=3)")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return cli.Usagef("exercise: say list or check N")
	}
	switch args[0] {
	case "list":
		for _, e := range workshop.Exercises() {
			fmt.Fprintf(stdout, "%d  %-60s docs/workshop/%s\n", e.N, e.Title, e.Doc)
		}
		return nil
	case "check", "start":
	default:
		fs.Usage()
		return cli.Usagef("exercise: unknown subcommand %q: say list, start N or check N", args[0])
	}
	if len(args) < 2 {
		return cli.Usagef("exercise %s: which exercise? e.g. offload exercise %s 4", args[0], args[0])
	}
	ex, err := workshop.Lookup(args[1])
	if err != nil {
		return cli.Usage(err)
	}
	if err := cli.Parse(fs, args[2:]); err != nil {
		return err
	}
	o := workshop.Options{Addr: *addr, Addr2: *addr2, Out: *out, Strategy: *strategy}
	if args[0] == "start" {
		at, err := workshop.Start(o, ex.N)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exercise %d started at %s: its check counts bench runs under %s/ made from now on\n", ex.N, at.Format(time.TimeOnly), *out)
		return nil
	}
	if *verbose {
		o.Log = stderr
	}
	fmt.Fprintf(stdout, "exercise %d: %s\n", ex.N, ex.Title)
	msg, err := ex.Check(ctx, o)
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "PASS\n%s\n", msg)
		return nil
	case workshop.IsHint(err):
		fmt.Fprintf(stdout, "NOT YET\n%v\n", err)
		return errNotYet
	default:
		return fmt.Errorf("exercise %d: the check itself failed: %w", ex.N, err)
	}
}
