package proc_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/proc"
)

// A process started with CPUs runs only there, and a Go program is told
// how many it has.
func TestStartPinsToCPUs(t *testing.T) {
	mine, err := cpuset.Allowed(0)
	if err != nil || len(mine) < 2 {
		t.Skipf("needs two cpus, this process may use %v (%v)", mine, err)
	}
	want := mine[len(mine)-1:]
	var out itest.Output
	p, err := proc.Start(proc.Spec{Name: "pinned", Path: "/bin/sh", Args: []string{"-c", "echo gomaxprocs=$GOMAXPROCS; exec sleep 30"}, Output: &out, CPUs: want})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill() }()
	got, err := cpuset.Allowed(p.PID())
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("the child may run on %s, want %s", got, want)
	}
	if mine2, _ := cpuset.Allowed(os.Getpid()); mine2.String() != mine.String() {
		t.Errorf("pinning the child moved the parent to %s (was %s)", mine2, mine)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "gomaxprocs=") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polled: the shell writes when it runs
	}
	if !strings.Contains(out.String(), "gomaxprocs=1") {
		t.Errorf("child output %q: want GOMAXPROCS=1 for one cpu", out.String())
	}
}
