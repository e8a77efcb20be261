package proc_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/wait"
)

// roleEnv turns this test binary into a helper process: "parent" starts a
// child with proc.Start, prints its pid and waits to be killed; "sleeper" is
// that child when it is an offload binary (this one, with proc linked in).
const roleEnv = "PROC_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "parent":
		os.Exit(parent(os.Getenv("PROC_TEST_FOREIGN") != ""))
	case "sleeper":
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func parent(foreign bool) int {
	spec := proc.Spec{Name: "child", Output: os.Stderr}
	if foreign {
		path, err := exec.LookPath("sleep")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		spec.Path, spec.Args, spec.Foreign = path, []string{"3600"}, true
	} else {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		spec.Path, spec.Env = self, []string{roleEnv + "=sleeper"}
	}
	p, err := proc.Start(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.PID())
	time.Sleep(time.Hour)
	return 0
}

// A child must not outlive a parent that is SIGKILLed (no chance to clean
// up), whichever mechanism this platform uses, and the pipe fallback must
// hold on Linux as well as on macOS: the whole group goes, the guarded
// program included.
func TestChildDiesWithParent(t *testing.T) {
	modes := []string{"pipe"}
	if runtime.GOOS == "linux" {
		modes = append(modes, "pdeathsig")
	}
	for _, mode := range modes {
		for _, foreign := range []bool{false, true} {
			name := fmt.Sprintf("%s/foreign=%v", mode, foreign)
			t.Run(name, func(t *testing.T) {
				self, err := os.Executable()
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(self)
				cmd.Env = append(os.Environ(), roleEnv+"=parent")
				if mode == "pipe" {
					cmd.Env = append(cmd.Env, "OFFLOAD_LIFELINE=pipe")
				} else {
					cmd.Env = append(cmd.Env, "OFFLOAD_LIFELINE=")
				}
				if foreign {
					cmd.Env = append(cmd.Env, "PROC_TEST_FOREIGN=1")
				}
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
				line, err := bufio.NewReader(out).ReadString('\n')
				if err != nil {
					t.Fatalf("parent printed no child pid: %v", err)
				}
				child, err := strconv.Atoi(strings.TrimSpace(line))
				if err != nil {
					t.Fatalf("parent printed %q", line)
				}
				t.Cleanup(func() { _ = syscall.Kill(-child, syscall.SIGKILL) })
				// The child must be running first, or its death proves nothing.
				if !alive(child) {
					t.Fatalf("child %d is not running while its parent lives", child)
				}
				if foreign && mode == "pipe" {
					ctx := context.Background()
					if !wait.Until(ctx, 10*time.Second, func() bool { return groupSize(child) >= 2 }) {
						t.Fatalf("the guard %d did not start the program", child)
					}
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()
				if !wait.Until(context.Background(), 10*time.Second, func() bool { return groupSize(child) == 0 }) {
					t.Fatalf("%d process(es) of the child's group %d outlived the SIGKILLed parent", groupSize(child), child)
				}
			})
		}
	}
}

// alive reports whether pid runs (a zombie, waiting for a reaper that may
// never come in a container, does not count).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && !strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}

// groupSize counts the live (non-zombie) processes of process group pgid.
func groupSize(pgid int) int {
	if syscall.Kill(-pgid, 0) != nil {
		return 0
	}
	out, err := exec.Command("ps", "-A", "-o", "pgid=,stat=").Output()
	if err != nil {
		return -1
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == strconv.Itoa(pgid) && !strings.HasPrefix(f[1], "Z") {
			n++
		}
	}
	return n
}
