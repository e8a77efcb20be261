package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

// The lifeline is the portable way for a child to die with its parent: the
// parent holds the write end of a pipe, the child the read end as fd 3 and
// its number in lifelineEnv. Nobody ever writes; when the parent dies,
// however it dies, the kernel closes the write end and the child's read
// returns EOF. Linux has Pdeathsig for this; macOS has nothing like it.
const (
	lifelineEnv = "OFFLOAD_LIFELINE_FD"
	// guardEnv marks a child that is a guard: this same binary, re-executed
	// to hold the lifeline for a program that cannot (redis-server).
	guardEnv = "OFFLOAD_LIFELINE_GUARD"
	// modeEnv = "pipe" selects the lifeline on Linux too, so the fallback
	// is exercised where CI runs; children inherit the choice.
	modeEnv = "OFFLOAD_LIFELINE"
)

// The watch starts before main (and before a test binary's tests), so every
// offload process started by Start honours its lifeline without each
// command having to remember to.
func init() {
	v := os.Getenv(lifelineEnv)
	if v == "" {
		return
	}
	// Not for our own children: they get their own lifeline, and a plain
	// exec of another program must not mistake some fd 3 for one.
	_ = os.Unsetenv(lifelineEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		fmt.Fprintf(os.Stderr, "proc: bad %s=%q: not watching the parent\n", lifelineEnv, v)
		return
	}
	syscall.CloseOnExec(fd)
	line := os.NewFile(uintptr(fd), "lifeline")
	if os.Getenv(guardEnv) != "" {
		_ = os.Unsetenv(guardEnv)
		os.Exit(guard(line, os.Args[1:]))
	}
	go func() {
		awaitEOF(line)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL) // as Pdeathsig would
	}()
}

// awaitEOF blocks until the parent's end of the lifeline is closed.
func awaitEOF(line *os.File) {
	_, _ = io.Copy(io.Discard, line)
}

// guard runs argv in its own process group (the one Start made for the
// guard) and kills that whole group when the lifeline breaks (which is also
// how Process.Kill stops a guarded program). Signals sent
// to the group reach the program directly, so the guard only swallows them
// and waits for the program's exit status, which becomes its own.
func guard(line *os.File, argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "proc guard: no program to run")
		return 2
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		for range sigs { // the group signal already reached the program
		}
	}()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "proc guard: %v\n", err)
		return 127
	}
	reaped := make(chan struct{})
	go func() {
		awaitEOF(line)
		// Kill and reap the program before the rest of the group goes, so
		// it does not linger as a zombie of an init that may not reap.
		_ = cmd.Process.Kill()
		<-reaped
		_ = syscall.Kill(0, syscall.SIGKILL) // the program's children, and us
	}()
	err := cmd.Wait()
	close(reaped)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "proc guard: %v\n", err)
		return 1
	}
}

// lifeline prepares cmd (not yet started) to die with this process through
// a pipe. It returns the child's end, to close once the child has started,
// and the parent's end, which must stay open (and referenced) for as long
// as the child should live. For a foreign program — one that does not link
// this package — it puts this binary in front as the guard.
func lifeline(cmd *exec.Cmd, foreign bool) (child, parent *os.File, err error) {
	if foreign {
		self, err := os.Executable()
		if err != nil {
			return nil, nil, fmt.Errorf("lifeline guard: find own executable: %w", err)
		}
		cmd.Args = append([]string{self, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = self
		cmd.Env = append(cmd.Env, guardEnv+"=1")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("lifeline pipe: %w", err)
	}
	cmd.ExtraFiles = []*os.File{r} // fd 3 in the child
	cmd.Env = append(cmd.Env, lifelineEnv+"=3")
	return r, w, nil
}
