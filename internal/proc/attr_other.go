//go:build !linux

package proc

import "syscall"

// usePipe: outside Linux there is no Pdeathsig; the lifeline pipe is the
// only way a child learns that its parent died.
func usePipe() bool { return true }

func sysProcAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
