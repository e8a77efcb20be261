package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadSteal(t *testing.T) {
	dir := t.TempDir()
	stat := filepath.Join(dir, "stat")
	if err := os.WriteFile(stat, []byte("cpu  4705 356 584 3699176 23060 0 277 91 0 0\ncpu0 1393 280 219 924213 3722 0 71 45 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, ok := readSteal(stat); !ok || v != 91 {
		t.Errorf("steal %d (%v), want 91 from the machine's cpu line", v, ok)
	}
	if _, ok := readSteal(filepath.Join(dir, "none")); ok {
		t.Error("a missing /proc/stat read as a steal figure")
	}
	if _, ok := readSteal("/proc/stat"); !ok {
		t.Error("this machine's /proc/stat has no steal column")
	}
}

func TestHostUseCause(t *testing.T) {
	for _, tc := range []struct {
		name  string
		use   HostUse
		delay time.Duration
		want  string
	}{
		{"the hypervisor took 3 % of two cpus", HostUse{StealMS: 60}, 2 * time.Millisecond, "steal"},
		{"a GC pause as long as the delay", HostUse{StealMS: 5, GCPauseMaxMS: 1.5, GCPauses: 3}, 2 * time.Millisecond, "GC"},
		{"neither", HostUse{StealMS: 5, GCPauseMaxMS: 0.2}, 2 * time.Millisecond, "the generator behind"},
	} {
		if got := tc.use.Cause(time.Second, 2, tc.delay); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: cause %q, want %q", tc.name, got, tc.want)
		}
	}
}
