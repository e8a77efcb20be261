// Command numbers fills the measured numbers of README.md and docs/ from
// the curated bench results in docs/data/ (see internal/docnums):
//
//	go run ./docs/numbers                  # make docs-numbers: rewrite the pages
//	go run ./docs/numbers -check           # exit 1 and list what differs
//	go run ./docs/numbers -curate out/RUN  # make docs-data: copy RUN's results in, then rewrite
//
// Run it from the module root.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/offload/offload/internal/docnums"
	"github.com/offload/offload/results"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "docs numbers:", err)
		os.Exit(1)
	}
}

func run() error {
	check := flag.Bool("check", false, "change nothing; list the pages whose numbers differ from the data")
	curate := flag.String("curate", "", "a bench run directory (out/<run>): copy its results.json, histograms and time series left out, to "+docnums.DataFile+" first")
	commit := flag.String("commit", "", "with -curate: the commit the bench ran, when its results.json does not say")
	flag.Parse()
	if *curate != "" {
		src, err := results.Read(filepath.Join(*curate, "results.json"))
		if err != nil {
			return err
		}
		c := docnums.Curate(src, *commit)
		if c.Env.GitSHA == "" {
			return fmt.Errorf("%s/results.json does not say which commit ran; give -commit SHA", *curate)
		}
		if err := os.MkdirAll(filepath.Dir(docnums.DataFile), 0o755); err != nil {
			return err
		}
		if err := results.Write(docnums.DataFile, c); err != nil {
			return err
		}
		fmt.Printf("wrote %s from %s (%s)\n", docnums.DataFile, *curate, docnums.Stamp(c.Env))
	}
	f, err := results.Read(docnums.DataFile)
	if err != nil {
		return fmt.Errorf("%w (run from the module root; make docs-data RUN=out/<run> makes it)", err)
	}
	if *check {
		diffs, err := docnums.Check(".", f)
		if err != nil {
			return err
		}
		for _, d := range diffs {
			fmt.Println(d.Page)
			for _, l := range d.Lines {
				fmt.Println("  " + l)
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("%d pages differ from %s: run make docs-numbers", len(diffs), docnums.DataFile)
		}
		return nil
	}
	changed, err := docnums.Write(".", f)
	if err != nil {
		return err
	}
	for _, p := range changed {
		fmt.Println("updated", p)
	}
	fmt.Printf("%d pages updated from %s\n", len(changed), docnums.DataFile)
	return nil
}
