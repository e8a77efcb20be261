package proc

import (
	"os"
	"syscall"
)

// usePipe: on Linux the kernel itself kills an orphan (Pdeathsig), unless
// OFFLOAD_LIFELINE=pipe asks for the portable lifeline, so that the
// fallback macOS depends on is tested where CI runs.
func usePipe() bool { return os.Getenv(modeEnv) == "pipe" }

func sysProcAttr(pipe bool) *syscall.SysProcAttr {
	if pipe {
		return &syscall.SysProcAttr{Setpgid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
