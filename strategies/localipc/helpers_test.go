package localipc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/strategies/strategytest"
)

// family is `offload run --strategy localipc`: the leader as a real
// process, its web and worker children, and the test's mail sink.
type family struct {
	URL    string
	Sink   *mailsink.Sink
	leader *proc.Process
	seen   map[int]bool // every child pid ever seen, to check none outlives the test
}

func startFamily(t *testing.T, sinkCfg mailsink.Config, args ...string) *family {
	t.Helper()
	f := &family{Sink: itest.Sink(t, sinkCfg), seen: map[int]bool{}}
	// Registered first, so it runs last: after itest killed the leader.
	t.Cleanup(func() {
		itest.AssertNoOrphans(t)
		for pid := range f.seen {
			if !itest.Poll(5*time.Second, func() bool { return !alive(pid) }) {
				t.Errorf("child pid %d outlived its leader", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	addr := itest.FreeAddr(t)
	f.URL = "http://" + addr
	f.leader = itest.Start(t, "run", append([]string{"run", "--strategy", "localipc", "--addr", addr, "--smtp", f.Sink.Addr(),
		"--body-timeout", strategytest.ServeBodyTimeout.String()}, args...)...)
	itest.WaitHTTP(t, f.URL+"/healthz")
	f.waitWorkerUp(t)
	return f
}

func (f *family) setup() strategytest.Setup {
	return strategytest.Setup{URL: f.URL, Sink: f.Sink, BodyTimeout: strategytest.ServeBodyTimeout}
}

func (f *family) waitWorkerUp(t *testing.T) {
	t.Helper()
	itest.Eventually(t, 30*time.Second, "the worker to connect", func() bool { return strategytest.Metric(f.URL, "offload_localipc_worker_up") == 1 })
}

// child finds the leader's child whose command line has the word role
// ("serve" or "work"), as the load harness does, by walking /proc.
func (f *family) child(t *testing.T, role string) int {
	t.Helper()
	var pid int
	itest.Eventually(t, 10*time.Second, role+" child in /proc", func() bool {
		pid = childOf(f.leader.PID(), role)
		return pid != 0
	})
	f.seen[pid] = true
	return pid
}

// kill SIGKILLs the child and waits until it is gone.
func (f *family) kill(t *testing.T, role string) int {
	t.Helper()
	pid := f.child(t, role)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 10*time.Second, fmt.Sprintf("%s pid %d to die", role, pid), func() bool { return gone(pid) })
	return pid
}

func childOf(parent int, word string) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(parent) {
			continue
		}
		dir := filepath.Dir(p)
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		for _, arg := range strings.Split(string(cmd), "\x00") {
			if arg == word {
				pid, _ := strconv.Atoi(filepath.Base(dir))
				return pid
			}
		}
	}
	return 0
}

// gone reports that pid has exited and been reaped. A zombie is not gone:
// its thread group may still be tearing down and holding its sockets.
func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err != nil
}

// alive reports that pid exists and is not a zombie (a killed leader's
// children are reparented, and not every init reaps them).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	return !strings.HasPrefix(rest, "Z")
}

func allOnce(t *testing.T, s *mailsink.Sink, ids []string) {
	t.Helper()
	strategytest.WaitDelivered(t, s, ids, 30*time.Second)
	for _, id := range ids {
		if d, _ := s.Delivery(id); d.Count != 1 {
			t.Fatalf("job %s delivered %d times, want once", id, d.Count)
		}
	}
}
