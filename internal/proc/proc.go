// Package proc starts and stops the real processes offload is made of (web
// servers, workers, redis-server) so that none outlives its parent: each
// child leads its own process group, is killed with that group, and dies
// if the parent dies first: by SIGKILL from the kernel on Linux (Pdeathsig),
// elsewhere when the lifeline pipe from the parent breaks (lifeline.go).
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/offload/offload/internal/cpuset"
)

// Spec says what to run.
type Spec struct {
	Name   string   // for logs: "web", "worker-1"
	Path   string   // executable
	Args   []string // without argv[0]
	Env    []string // added to the parent's environment
	Dir    string
	Output io.Writer // stdout and stderr, each line prefixed with Name; default os.Stderr
	// Foreign marks a program that is not an offload binary (redis-server):
	// where the lifeline pipe is used it cannot watch it, so a guard does.
	Foreign bool
	// CPUs, when set, pins every thread of the process to these CPUs right
	// after it starts, and tells a Go program (any but a Foreign one) to
	// run that many threads of Go code at once (GOMAXPROCS): its runtime
	// would otherwise size itself by the CPUs it was started on.
	CPUs cpuset.Set
}

// Process is a started child. Safe for concurrent use.
type Process struct {
	Spec Spec
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	mu   sync.Mutex
	// line is the parent's end of the lifeline (nil under Pdeathsig): held
	// until the child is reaped, since closing it kills the child.
	line *os.File
}

// Start runs spec in its own process group.
func Start(spec Spec) (*Process, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = os.Environ()
	if spec.CPUs != nil && !spec.Foreign {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(len(spec.CPUs))) // spec.Env may override it
	}
	cmd.Env = append(cmd.Env, spec.Env...)
	cmd.Dir = spec.Dir
	pipe := usePipe()
	cmd.SysProcAttr = sysProcAttr(pipe)
	var childEnd, line *os.File
	if pipe {
		var err error
		if childEnd, line, err = lifeline(cmd, spec.Foreign); err != nil {
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}
	out := spec.Output
	if out == nil {
		out = os.Stderr
	}
	pw := newPrefixWriter(out, spec.Name)
	cmd.Stdout, cmd.Stderr = pw, pw
	err := cmd.Start()
	if childEnd != nil {
		childEnd.Close()
	}
	if err != nil {
		if line != nil {
			line.Close()
		}
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{Spec: spec, cmd: cmd, done: make(chan struct{}), line: line}
	if spec.CPUs != nil {
		if err := cpuset.Pin(cmd.Process.Pid, spec.CPUs); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if line != nil {
				line.Close()
			}
			return nil, fmt.Errorf("start %s: pin to cpus %s: %w", spec.Name, spec.CPUs, err)
		}
	}
	go func() {
		err := cmd.Wait()
		if p.line != nil {
			p.line.Close()
		}
		pw.flush()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID is the child's process id (and its group id). For a Foreign program
// under the lifeline it is the guard's: signal the group, not the pid.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error once Done is closed.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the child's whole process group.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.Spec.Name, err)
	}
	return nil
}

// Kill sends SIGKILL to the group and waits for the child to be reaped.
func (p *Process) Kill() error {
	if p.Spec.Foreign && p.line != nil && !p.Exited() {
		// Breaking the lifeline has the guard kill and reap the program;
		// SIGKILL to the group would leave the program a zombie for init.
		_ = p.line.Close()
		select {
		case <-p.done:
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// Stop asks the group to exit with SIGTERM and kills it if it has not by
// the time ctx ends (or after 10s without a deadline). Safe to call twice.
func (p *Process) Stop(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		// The leader is gone; make sure nothing it started is left.
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		return nil
	case <-ctx.Done():
		return p.Kill()
	}
}

// GroupAlive reports whether any process of the child's group still exists.
func (p *Process) GroupAlive() bool {
	return syscall.Kill(-p.PID(), 0) == nil
}

// prefixWriter writes each line as "name | line", whole lines only, so the
// logs of several children interleave readably.
type prefixWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte
}

func newPrefixWriter(out io.Writer, name string) *prefixWriter {
	return &prefixWriter{out: out, prefix: name + " | "}
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := indexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i+1]
		if _, err := w.out.Write(append([]byte(w.prefix), line...)); err != nil {
			return len(b), nil // a closed log must not kill the child
		}
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		_, _ = w.out.Write(append([]byte(w.prefix), append(w.buf, '\n')...))
		w.buf = nil
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Lines calls fn for each line read from r until EOF; a helper for parsing
// a child's output.
func Lines(r io.Reader, fn func(string)) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fn(sc.Text())
	}
	return sc.Err()
}
