package workshop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CheckSeventh is exercise 8, in two parts. First the conformance suite
// every strategy passes (strategytest.Exercise), run by `go test` against
// the package pkg (./workshop/ex08 for the participant), whose
// TestConformance runs only when OFFLOAD_EXERCISE=8. Then the property
// fireforget lacks: the strategy, built into offload from the catalog as
// o.Strategy, goes through the bench's web-crash and worker-crash
// scenarios, and the bench's own accounting at the mail sink must count no
// lost job.
func CheckSeventh(ctx context.Context, o Options, pkg string) (string, error) {
	o = o.withDefaults()
	res, err := runGoTest(ctx, o, goTestRun{what: "exercise 8", pkg: pkg, test: "TestConformance",
		env: []string{"OFFLOAD_EXERCISE=8"}, limit: 4 * time.Minute})
	if err != nil {
		return "", err
	}
	if res.failed {
		failures := failureLines(res.output, 12)
		if res.buildFailed() {
			return "", hintf("fix the compile errors above", "%s does not build:\n%s", pkg, failures)
		}
		return "", hintf("make Submit hand the job to your backend and get it delivered (workshop/ex08/seventh.go); run `go test -v -run TestConformance "+pkg+"` with OFFLOAD_EXERCISE=8 for the whole log",
			"%s fails the conformance suite:\n%s", pkg, failures)
	}
	fmt.Fprintf(o.Log, "%s passes the conformance suite; now the crash scenarios\n", pkg)
	table, err := crashBench(ctx, o)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s passes the conformance suite every strategy passes, and lost no job when the bench killed its processes:\n%s"+
		"Compare it with the six: offload bench --strategies %s,fireforget,queue --scenarios steady,web-crash,worker-crash --quick",
		pkg, table, o.Strategy), nil
}

// The crash bench offers few jobs, each slow to deliver, so that jobs are
// always on their way when the kill comes: fireforget, holding them in the
// web process's memory, loses some in every such run (30 arrive a second
// and each takes 200 ms, so about six are always on their way), while a
// strategy that keeps them outside the process loses none.
var crashBenchArgs = []string{"--scenarios", "web-crash,worker-crash", "--quick", "--rate", "30", "--sink-delay", "200ms", "--ui", "off"}

// crashBench builds offload from the participant's tree, runs the crash
// scenarios for o.Strategy and returns their table, or the hint.
func crashBench(ctx context.Context, o Options) (string, error) {
	root, err := moduleRoot(ctx, o, "exercise 8")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "offload-exercise8-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "offload")
	build := []string{"build", "-o", bin}
	if o.Overlay != "" {
		build = append(build, "-overlay", o.Overlay)
	}
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(bctx, "go", append(build, "./cmd/offload")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", hintf("fix the compile errors above", "offload does not build with your strategy:\n%s", failureLines(string(out), 12))
	}
	out := filepath.Join(dir, "out")
	args := append([]string{"bench", "--strategies", o.Strategy, "--out", out}, crashBenchArgs...)
	fmt.Fprintf(o.Log, "running offload %s\n", strings.Join(args, " "))
	cctx, cancel2 := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel2()
	cmd = exec.CommandContext(cctx, bin, args...)
	cmd.Dir = dir
	// A backend that keeps jobs on disk finds its place here, across the
	// restarts of the web process (the reference spool reads it).
	cmd.Env = append(os.Environ(), "OFFLOAD_SPOOL_DIR="+filepath.Join(dir, "spool"))
	logs, err := cmd.CombinedOutput()
	if cctx.Err() != nil {
		return "", fmt.Errorf("offload bench --strategies %s: %w", o.Strategy, cctx.Err())
	}
	if err != nil {
		text := string(logs)
		if strings.Contains(text, "unknown strategy") {
			return "", hintf(fmt.Sprintf("add an Entry named %q to strategies/catalog/entries.go (New: ex08.New), or give the name with --strategy NAME", o.Strategy),
				"offload does not know a strategy %q:\n%s", o.Strategy, failureLines(text, 4))
		}
		return "", fmt.Errorf("offload bench --strategies %s failed: %w\n%s", o.Strategy, err, lastLines(text, 15))
	}
	runs, _, err := benchRuns(out, time.Time{}, "web-crash", "worker-crash")
	if err != nil {
		return "", err
	}
	var table strings.Builder
	var lost, measured int64
	var where []string
	for _, r := range runs {
		if r.Strategy != o.Strategy {
			continue
		}
		if r.NAReason != "" {
			fmt.Fprintf(&table, "  %-13s n/a: %s\n", r.Scenario, r.NAReason)
			continue
		}
		measured++
		lost += r.Lost
		if r.Lost > 0 {
			where = append(where, r.Scenario)
		}
		fmt.Fprintf(&table, "  %-13s accepted %4d  delivered %4d  lost %3d  duplicates %3d\n", r.Scenario, r.Accepted, r.Delivered, r.Lost, r.Duplicates)
	}
	switch {
	case measured == 0:
		return "", fmt.Errorf("offload bench ran no crash scenario for %s:\n%s", o.Strategy, lastLines(string(logs), 15))
	case lost > 0:
		return "", hintf("keep each job somewhere that outlives the process (disk, a database, a broker) before you answer 202, and deliver what a crash left behind after the restart",
			"the bench killed %s's processes and lost %d accepted jobs (%s): they lived only in a process's memory, as with fireforget:\n%s",
			o.Strategy, lost, strings.Join(where, ", "), table.String())
	}
	return table.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
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
