package workshop

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CheckSeventh is exercise 8: the conformance suite every strategy passes
// (strategytest.Exercise), run by `go test` against the package pkg
// (./workshop/ex08 for the participant), whose TestConformance runs only
// when OFFLOAD_EXERCISE=8.
func CheckSeventh(ctx context.Context, o Options, pkg string) (string, error) {
	o = o.withDefaults()
	res, err := runGoTest(ctx, o, goTestRun{what: "exercise 8", pkg: pkg, test: "TestConformance",
		env: []string{"OFFLOAD_EXERCISE=8"}, limit: 4 * time.Minute})
	if err != nil {
		return "", err
	}
	if !res.failed {
		return fmt.Sprintf("%s passes the conformance suite every strategy passes.\n"+
			"Next: add its entry to strategies/catalog/entries.go (one entry), then: offload bench --strategies <name> --scenarios steady,web-crash --quick", pkg), nil
	}
	failures := failureLines(res.output, 12)
	if res.buildFailed() {
		return "", hintf("fix the compile errors above", "%s does not build:\n%s", pkg, failures)
	}
	return "", hintf("make Submit hand the job to your backend and get it delivered (workshop/ex08/seventh.go); run `go test -v -run TestConformance "+pkg+"` with OFFLOAD_EXERCISE=8 for the whole log",
		"%s fails the conformance suite:\n%s", pkg, failures)
}

// failureLines picks the lines of go test output that say what failed.
func failureLines(out string, most int) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "--- FAIL") || strings.Contains(t, ".go:") {
			keep = append(keep, "  "+t)
		}
		if len(keep) == most {
			keep = append(keep, "  ...")
			break
		}
	}
	if len(keep) == 0 {
		return out
	}
	return strings.Join(keep, "\n")
}
