package harness

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A firing thread goes back to the runtime as it came: at its old policy,
// unlocked (a thread that ended instead could take a child process with
// it: Pdeathsig is the forking thread's).
func TestFireThreadIsPutBack(t *testing.T) {
	got := make(chan [2]uint32, 1)
	go func() {
		runtime.LockOSThread() // so that the thread checked is the one fireThread had
		defer runtime.UnlockOSThread()
		note, done := fireThread()
		during, _ := unix.SchedGetAttr(0, 0)
		done()
		after, _ := unix.SchedGetAttr(0, 0)
		if (note == "") != (os.Geteuid() == 0) {
			t.Errorf("root %v, note %q", os.Geteuid() == 0, note)
		}
		got <- [2]uint32{during.Policy, after.Policy}
	}()
	p := <-got
	if os.Geteuid() == 0 && p[0] != unix.SCHED_FIFO {
		t.Errorf("policy %d while firing, want SCHED_FIFO", p[0])
	}
	if p[1] != unix.SCHED_NORMAL {
		t.Errorf("policy %d after firing, want SCHED_NORMAL", p[1])
	}
}
