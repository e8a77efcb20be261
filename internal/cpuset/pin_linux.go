package cpuset

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Supported reports whether processes can be pinned here.
func Supported() bool { return true }

// Pin sets the affinity of every thread of process pid to s. Threads the
// process starts later inherit it from the thread that starts them; a
// thread started while Pin walks the list is caught by the second pass.
func Pin(pid int, s Set) error {
	var mask unix.CPUSet
	for _, c := range s {
		mask.Set(c)
	}
	for range 2 {
		tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
		if err != nil {
			return fmt.Errorf("pin pid %d: %w", pid, err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &mask); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin pid %d thread %d to cpus %s: %w", pid, tid, s, err)
			}
		}
	}
	return nil
}

// Allowed reads the CPUs a process may run on, as the kernel reports them.
func Allowed(pid int) (Set, error) {
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &mask); err != nil {
		return nil, fmt.Errorf("affinity of pid %d: %w", pid, err)
	}
	var s Set
	for c := range 1024 {
		if mask.IsSet(c) {
			s = append(s, c)
		}
	}
	return s, nil
}
