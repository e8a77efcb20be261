package workshop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CheckSeventh is exercise 8: the conformance suite every strategy passes
// (strategytest.Exercise), run by `go test` against the package pkg
// (./workshop/ex08 for the participant), whose TestConformance runs only
// when OFFLOAD_EXERCISE=8.
func CheckSeventh(ctx context.Context, o Options, pkg string) (string, error) {
	o = o.withDefaults()
	root := o.Root
	if root == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		mod := strings.TrimSpace(string(out))
		if err != nil || mod == "" || mod == os.DevNull {
			return "", hintf("cd into your clone of offload and run it again", "exercise 8 runs `go test` on %s and needs the offload source tree (go env GOMOD: %q, %v)", pkg, mod, err)
		}
		root = filepath.Dir(mod)
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestConformance$", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "OFFLOAD_EXERCISE=8")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(o.Log, "running go test -run TestConformance %s (the conformance suite of strategies/strategytest)\n", pkg)
	err := cmd.Run()
	if err == nil {
		return fmt.Sprintf("%s passes the conformance suite every strategy passes.\n"+
			"Next: add its entry to strategies/catalog/entries.go (one entry), then: offload bench --strategies <name> --scenarios steady,web-crash --quick", pkg), nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("go test %s: %w", pkg, ctx.Err())
	}
	failures := failureLines(out.String(), 12)
	if strings.Contains(out.String(), "[build failed]") || strings.Contains(out.String(), "[setup failed]") {
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
