package workshop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Some checks must run the participant's code in a fresh `go test`: under
// the race detector (exercise 5), or as the conformance suite does
// (exercise 8). The test inside reports its verdict through a file named by
// $OFFLOAD_EXERCISE_VERDICT, so the hint it found reaches the participant
// as the in-process checks' hints do.

// verdict is what a check run inside go test found.
type verdict struct {
	Pass    bool   `json:"pass"`
	Message string `json:"message,omitempty"`
	Problem string `json:"problem,omitempty"`
	Try     string `json:"try,omitempty"`
	Error   string `json:"error,omitempty"` // the check itself failed
}

// WriteVerdict is for the test inside: it records a check's result where
// the check outside looks for it. Outside such a run it does nothing.
func WriteVerdict(msg string, err error) error {
	p := os.Getenv("OFFLOAD_EXERCISE_VERDICT")
	if p == "" {
		return nil
	}
	v := verdict{Pass: err == nil, Message: msg}
	var h *Hint
	switch {
	case errors.As(err, &h):
		v.Problem, v.Try = h.Problem, h.Try
	case err != nil:
		v.Error = err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// moduleRoot is where go test must run: o.Root, or the module of the
// current directory.
func moduleRoot(ctx context.Context, o Options, what string) (string, error) {
	if o.Root != "" {
		return o.Root, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", hintf("cd into your clone of offload and run it again", "%s runs `go test` and needs the offload source tree (go env GOMOD: %q, %v)", what, mod, err)
	}
	return filepath.Dir(mod), nil
}

// goTestRun is one `go test -run test pkg`.
type goTestRun struct {
	what  string // "exercise 5", for messages
	pkg   string
	test  string
	race  bool
	env   []string
	limit time.Duration
}

// goTestResult is what came out of it.
type goTestResult struct {
	verdict *verdict // nil: the test never wrote one
	output  string
	failed  bool // go test exited non-zero
}

func runGoTest(ctx context.Context, o Options, r goTestRun) (goTestResult, error) {
	root, err := moduleRoot(ctx, o, r.what)
	if err != nil {
		return goTestResult{}, err
	}
	dir, err := os.MkdirTemp("", "offload-exercise-")
	if err != nil {
		return goTestResult{}, err
	}
	defer os.RemoveAll(dir)
	vfile := filepath.Join(dir, "verdict.json")
	args := []string{"test", "-count=1", "-v"}
	if r.race {
		args = append(args, "-race")
	}
	if o.Overlay != "" {
		args = append(args, "-overlay", o.Overlay)
	}
	args = append(args, "-run", "^"+r.test+"$", r.pkg)
	ctx, cancel := context.WithTimeout(ctx, r.limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "OFFLOAD_EXERCISE_VERDICT="+vfile), r.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(o.Log, "running go %s\n", strings.Join(args, " "))
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return goTestResult{}, fmt.Errorf("go test %s: %w", r.pkg, ctx.Err())
	}
	res := goTestResult{output: out.String(), failed: runErr != nil}
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return goTestResult{}, fmt.Errorf("go test %s: %w", r.pkg, runErr)
	}
	b, err := os.ReadFile(vfile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return goTestResult{}, err
	default:
		res.verdict = &verdict{}
		if err := json.Unmarshal(b, res.verdict); err != nil {
			return goTestResult{}, fmt.Errorf("read the verdict of go test %s: %w", r.pkg, err)
		}
	}
	return res, nil
}

// buildFailed reports whether go test could not build the package.
func (r goTestResult) buildFailed() bool {
	return strings.Contains(r.output, "[build failed]") || strings.Contains(r.output, "[setup failed]")
}

// raceReport is the first data race the race detector printed, or "".
func (r goTestResult) raceReport(most int) string {
	i := strings.Index(r.output, "WARNING: DATA RACE")
	if i < 0 {
		return ""
	}
	lines := strings.Split(r.output[i:], "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "==================") {
			break
		}
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "/") || strings.Contains(l, "/workshop/") {
			keep = append(keep, "  "+t)
		}
		if len(keep) == most {
			break
		}
	}
	return strings.Join(keep, "\n")
}
