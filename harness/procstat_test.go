package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProc writes a /proc/<pid> with stat, status and cmdline.
func fakeProc(t *testing.T, root string, pid, ppid int, start, utime, stime, hwmKB uint64, state string, argv ...string) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Fields 3..22; the command name has a space and a parenthesis, as real ones can.
	f := make([]string, 20)
	for i := range f {
		f[i] = "0"
	}
	f[0], f[1] = state, fmt.Sprint(ppid)
	f[14-3], f[15-3], f[22-3] = fmt.Sprint(utime), fmt.Sprint(stime), fmt.Sprint(start)
	stat := fmt.Sprintf("%d (off load) %s\n", pid, strings.Join(f, " "))
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", stat)
	write("status", fmt.Sprintf("Name:\toffload\nVmHWM:\t  %d kB\nVmRSS:\t  1000 kB\n", hwmKB))
	write("cmdline", strings.Join(argv, "\x00")+"\x00")
}

func TestReadProc(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 42, 1, 777, 150, 50, 20480, "S", "/bin/offload", "serve", "--strategy", "queue")
	st, err := ReadProc(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 42 || st.PPID != 1 || st.CPUTicks != 200 || st.Start != 777 || st.PeakRSSKB != 20480 || st.Zombie {
		t.Errorf("got %+v", st)
	}
	if st.Cmdline != "/bin/offload serve --strategy queue" {
		t.Errorf("cmdline %q", st.Cmdline)
	}
	if _, err := ReadProc(root, 43); err == nil {
		t.Error("missing process read without error")
	}
}

func TestSamplerCountsOnlyTheWindowAndSurvivesRestarts(t *testing.T) {
	root := t.TempDir()
	s := &Sampler{Root: root}
	// A supervisor (10) with a web child (11) and a worker child (12),
	// plus a directly started redis (20).
	fakeProc(t, root, 10, 1, 100, 100, 0, 10240, "S", "/bin/offload", "run")
	fakeProc(t, root, 11, 10, 101, 300, 0, 30720, "S", "/bin/offload", "serve")
	fakeProc(t, root, 12, 10, 102, 500, 0, 51200, "S", "/bin/offload", "work")
	fakeProc(t, root, 20, 1, 103, 1000, 0, 8192, "S", "redis-server")
	targets := []Target{{Role: "supervisor", PID: 10, Tree: true}, {Role: "redis", PID: 20}}
	s.Begin(targets) // everything used so far is before the window

	// During the window: the web child uses 1s, the worker 0.5s and then
	// dies (SIGKILL) and is replaced by pid 13, which uses 0.25s.
	fakeProc(t, root, 11, 10, 101, 400, 0, 40960, "S", "/bin/offload", "serve")
	fakeProc(t, root, 12, 10, 102, 550, 0, 51200, "S", "/bin/offload", "work")
	s.Sample(targets)
	if err := os.RemoveAll(filepath.Join(root, "12")); err != nil {
		t.Fatal(err)
	}
	fakeProc(t, root, 13, 10, 200, 25, 0, 20480, "S", "/bin/offload", "work")
	fakeProc(t, root, 20, 1, 103, 1010, 0, 8192, "S", "redis-server")
	s.Sample(targets)

	got := map[string][2]float64{}
	for _, u := range s.Use() {
		got[u.Role] = [2]float64{u.CPUS, u.PeakRSSMB}
	}
	want := map[string][2]float64{
		"supervisor":       {0, 10},
		"supervisor/serve": {1, 40},
		"supervisor/work":  {0.75, 50}, // 0.5s before the kill + 0.25s of its successor
		"redis":            {0.1, 8},
	}
	for role, w := range want {
		if got[role] != w {
			t.Errorf("%s: cpu %.3fs peak %.1fMB, want %.3fs %.1fMB", role, got[role][0], got[role][1], w[0], w[1])
		}
	}
	if len(got) != len(want) {
		t.Errorf("roles %v", got)
	}
}

func TestChildrenSkipsZombies(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 10, 1, 1, 0, 0, 0, "S", "run")
	fakeProc(t, root, 11, 10, 2, 0, 0, 0, "S", "serve")
	fakeProc(t, root, 12, 10, 3, 0, 0, 0, "Z", "work")
	fakeProc(t, root, 13, 11, 4, 0, 0, 0, "S", "grandchild")
	if got := Children(root, 10); len(got) != 1 || got[0] != 11 {
		t.Errorf("children of 10: %v, want [11]", got)
	}
}

func TestSamplerReadsThisProcess(t *testing.T) {
	var s Sampler
	targets := []Target{{Role: "self", PID: os.Getpid()}}
	s.Begin(targets)
	s.Sample(targets)
	u := s.Use()
	if len(u) != 1 || u[0].PeakRSSMB <= 0 {
		t.Errorf("sampling this process: %+v", u)
	}
}
