// Package redisproc runs a private, real redis-server on a free loopback
// port in its own directory: for tests, for `offload run` and for the
// harness, which must restart it (broker-restart) and never touch a Redis
// it did not start.
package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/proc"
)

// Hint is the one line that tells a user how to get redis-server.
const Hint = "redis-server not found: install it with `sudo apt-get install redis-server` (or run `make deps` as root)"

// ErrNotInstalled is returned when redis-server is not on PATH.
var ErrNotInstalled = errors.New(Hint)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	Port       int       // default: a free port
	Dir        string    // data and log directory; default: a new temp dir, removed by Close
	AppendOnly bool      // appendonly yes + appendfsync always: every acknowledged write survives a restart
	Output     io.Writer // redis-server's own log; default: a file in Dir
	// Bind is the address to listen on [127.0.0.1]. A cluster that a
	// process in another network namespace must reach binds the host's end
	// of a veth pair instead.
	Bind string
	// Args are more redis-server options, e.g. the cluster ones
	// (rediscluster builds them).
	Args []string
	// CPUs pins the server (and its restarts) to these CPUs; nil: anywhere.
	CPUs cpuset.Set
}

// Server is a running redis-server.
type Server struct {
	cfg    Config
	port   int
	dir    string
	ownDir bool
	p      *proc.Process
	path   string
}

// Available reports whether redis-server can be started here.
func Available() error {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return ErrNotInstalled
	}
	return nil
}

// TempDir makes a new directory for a private Redis's files (pattern as
// for os.MkdirTemp). Where the system has a memory filesystem (/dev/shm)
// it goes there. Every fault offload injects kills a process, never the
// machine, and a killed redis-server's appendonly file survives in memory
// as on disk; but an fsync on a shared host's disk stalls now and then
// for hundreds of milliseconds (2,000 appends each followed by fdatasync,
// 2026-12-02, on the 2-core VM the docs were measured on: p50 0.2 ms, max
// 364 ms), and with appendfsync always every client of that Redis waits
// it out. On disk, the host's storage would set the p99 of every
// Redis-backed strategy.
func TempDir(pattern string) (string, error) {
	root := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && unix.Access("/dev/shm", unix.W_OK) == nil {
		root = "/dev/shm"
	}
	return os.MkdirTemp(root, pattern)
}

// Start starts redis-server and waits until it answers PING.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	s := &Server{cfg: cfg, dir: cfg.Dir, port: cfg.Port, path: path}
	if s.dir == "" {
		if s.dir, err = TempDir("offload-redis-"); err != nil {
			return nil, fmt.Errorf("redis: temp dir: %w", err)
		}
		s.ownDir = true
	}
	for attempt := 0; ; attempt++ {
		if cfg.Port == 0 {
			if s.port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		// Another process may have taken the free port between our probe and
		// redis's bind; try another one.
		if cfg.Port != 0 || attempt == 2 {
			s.Close()
			return nil, err
		}
	}
}

func (s *Server) start(ctx context.Context) error {
	protected := "yes"
	if s.bind() != "127.0.0.1" {
		// Protected mode refuses clients that are not on loopback.
		protected = "no"
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", s.bind(),
		"--dir", s.dir,
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", protected,
	}
	if s.cfg.AppendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.cfg.Args...)
	out := s.cfg.Output
	if out == nil {
		args = append(args, "--logfile", filepath.Join(s.dir, "redis.log"))
		out = io.Discard
	}
	p, err := proc.Start(proc.Spec{Name: "redis", Path: s.path, Args: args, Output: out, Foreign: true, CPUs: s.cfg.CPUs})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	s.p = p
	if err := s.waitReady(ctx); err != nil {
		_ = p.Kill()
		return fmt.Errorf("redis-server on port %d did not start: %w%s", s.port, err, s.logTail())
	}
	return nil
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return " (log: " + strings.Join(lines, " / ") + ")"
}

// waitReady polls PING until +PONG (not -LOADING), the process dies, or 10s pass.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if s.p.Exited() {
			return fmt.Errorf("exited: %v", s.p.Err())
		}
		if ping(s.Addr()) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("not ready: %s", strings.TrimSpace(line))
	}
	return nil
}

func (s *Server) bind() string {
	if s.cfg.Bind == "" {
		return "127.0.0.1"
	}
	return s.cfg.Bind
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.bind(), strconv.Itoa(s.port)) }

// Port is the port redis-server listens on.
func (s *Server) Port() int { return s.port }

// URL is the redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the data directory.
func (s *Server) Dir() string { return s.dir }

// PID of the running redis-server (0 when stopped).
func (s *Server) PID() int {
	if s.p == nil || s.p.Exited() {
		return 0
	}
	return s.p.PID()
}

// Process is the running redis-server process (nil when stopped).
func (s *Server) Process() *proc.Process { return s.p }

// Kill stops redis-server with SIGKILL, as a crash would.
func (s *Server) Kill() error {
	if s.p == nil {
		return nil
	}
	return s.p.Kill()
}

// Stop shuts redis-server down with SIGTERM.
func (s *Server) Stop(ctx context.Context) error {
	if s.p == nil {
		return nil
	}
	return s.p.Stop(ctx)
}

// Restart stops redis-server (killed when hard, else SIGTERM) and starts it
// again on the same port and directory, so appendonly data is reloaded.
func (s *Server) Restart(ctx context.Context, hard bool) error {
	var err error
	if hard {
		err = s.Kill()
	} else {
		err = s.Stop(ctx)
	}
	if err != nil {
		return fmt.Errorf("redis restart: %w", err)
	}
	return s.start(ctx)
}

// Close stops redis-server and removes its directory if Start made it.
// Safe to call twice.
func (s *Server) Close() {
	if s.p != nil {
		_ = s.p.Kill()
	}
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
		s.ownDir = false
	}
}

// Version asks redis-server --version (e.g. "7.0.15").
func Version() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "v=") {
			return strings.TrimPrefix(f, "v=")
		}
	}
	return strings.TrimSpace(string(out))
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
