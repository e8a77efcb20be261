//go:build !linux

package cpuset

import (
	"errors"
	"runtime"
)

// Supported reports whether processes can be pinned here.
func Supported() bool { return false }

var errUnsupported = errors.New("pinning processes to cpus needs linux (sched_setaffinity); this is " + runtime.GOOS)

// Pin is not available off Linux.
func Pin(int, Set) error { return errUnsupported }

// Allowed is not available off Linux.
func Allowed(int) (Set, error) { return nil, errUnsupported }
