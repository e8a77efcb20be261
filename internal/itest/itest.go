// Package itest is the one helper integration tests use to start the real
// parts offload is made of: a private redis-server, the mail sink, and the
// offload binary as real processes. Everything it starts is stopped by
// t.Cleanup, and AssertNoOrphans checks that it was.
//
// Where redis-server is missing, tests skip with a one-line reason, except
// under CI=true, where a missing dependency is a failure.
package itest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/netcut"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
)

// RedisOption adjusts the redis-server a test gets.
type RedisOption func(*redisproc.Config)

// AppendOnly turns on appendonly with fsync on every write.
func AppendOnly() RedisOption { return func(c *redisproc.Config) { c.AppendOnly = true } }

// Redis starts a private redis-server for t and stops it at cleanup.
func Redis(t testing.TB, opts ...RedisOption) *redisproc.Server {
	t.Helper()
	NeedRedis(t)
	var cfg redisproc.Config
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := redisproc.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	track(srv.Process())
	t.Cleanup(func() {
		p := srv.Process()
		srv.Close()
		if p != nil && p.GroupAlive() {
			t.Errorf("redis-server pid %d still alive after Close", p.PID())
		}
	})
	return srv
}

// Cluster starts a private Redis Cluster (3 masters, 1 replica each) for t
// and removes it at cleanup.
func Cluster(t testing.TB, cfg rediscluster.Config) *rediscluster.Cluster {
	t.Helper()
	needCluster(t)
	c, err := rediscluster.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		track(n.Server().Process())
	}
	t.Cleanup(c.Close)
	return c
}

// MastersCPU is the processor time cl's masters have used so far, summed
// (rediscluster.Cluster.MastersCPU); a benchmark reads it before and after.
func MastersCPU(t testing.TB, cl *rediscluster.Cluster) time.Duration {
	t.Helper()
	d, err := cl.MastersCPU(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Pair starts a private master with one replica behind a re-pointable
// endpoint for t and removes it at cleanup.
func Pair(t testing.TB, cfg rediscluster.Config) *rediscluster.Pair {
	t.Helper()
	needCluster(t)
	p, err := rediscluster.StartPair(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	track(p.Master.Server().Process())
	track(p.Replica.Server().Process())
	t.Cleanup(p.Close)
	return p
}

func needCluster(t testing.TB) { t.Helper(); Need(t, rediscluster.Available()) }

// NeedRedis skips t where redis-server is missing (a failure under CI).
func NeedRedis(t testing.TB) { t.Helper(); Need(t, redisproc.Available()) }

// Need skips t for the missing part err names, except under CI=true,
// where a missing part is a failure: CI must never pass by skipping.
// A nil err needs nothing.
func Need(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %v", err)
	}
	t.Skip(err.Error())
}

// Netns makes a network namespace joined to the host for t (netcut.New)
// and removes it at cleanup, failing t if any of it is left.
func Netns(t testing.TB) *netcut.Net {
	t.Helper()
	NeedNetns(t)
	n, err := netcut.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// NeedNetns skips t where network namespaces cannot be made (not root, no
// ip command), except under CI=true, where that is a failure.
func NeedNetns(t testing.TB) { t.Helper(); Need(t, netcut.Available()) }

// Sink starts an in-process mail sink for t.
func Sink(t testing.TB, cfg mailsink.Config) *mailsink.Sink {
	t.Helper()
	s, err := mailsink.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// builds holds one build of cmd/offload per set of build tags.
var builds sync.Map // tags -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds cmd/offload once per test process and returns its path.
func Binary(t testing.TB) string { t.Helper(); return TaggedBinary(t, "") }

// TaggedBinary is Binary built with -tags tags (offloadtest adds the
// catalog's test-only strategy).
func TaggedBinary(t testing.TB, tags string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(tags, &build{})
	b := v.(*build)
	b.once.Do(func() { b.path, b.err = buildOffload(tags) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func buildOffload(tags string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "offload-itest-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "offload")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", path, "./cmd/offload")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags %q ./cmd/offload: %v\n%s", tags, err, out)
	}
	return path, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the offload module")
	}
	return filepath.Dir(mod), nil
}

// Start runs the offload binary with args as a real process, logs its
// output to t, and kills its whole process group at cleanup.
func Start(t testing.TB, name string, args ...string) *proc.Process {
	t.Helper()
	return StartBinary(t, Binary(t), name, args...)
}

// StartBinary is Start with another build of the binary (TaggedBinary).
func StartBinary(t testing.TB, bin, name string, args ...string) *proc.Process {
	t.Helper()
	return startWith(t, bin, name, &testWriter{t: t}, args)
}

func startWith(t testing.TB, bin, name string, out io.Writer, args []string) *proc.Process {
	t.Helper()
	p, err := proc.Start(proc.Spec{Name: name, Path: bin, Args: args, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	track(p)
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

// StartCapture is Start that also keeps the child's output, for a test
// that reads what it printed.
func StartCapture(t testing.TB, name string, args ...string) (*proc.Process, *Output) {
	t.Helper()
	out := &Output{}
	return startWith(t, Binary(t), name, io.MultiWriter(&testWriter{t: t}, out), args), out
}

// Output is a writer a test can read while something writes to it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string { o.mu.Lock(); defer o.mu.Unlock(); return o.b.String() }

// testWriter sends a child's output to t.Log until the test ends.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		func() {
			defer func() { _ = recover() }() // t.Log after the test ended panics
			w.t.Log(strings.TrimRight(string(b), "\n"))
		}()
	}
	return len(b), nil
}

var (
	trackedMu sync.Mutex
	tracked   []*proc.Process
)

func track(p *proc.Process) {
	trackedMu.Lock()
	defer trackedMu.Unlock()
	tracked = append(tracked, p)
}

// AssertNoOrphans fails t if any process group this package started (and
// anything in it, e.g. a supervisor's children) is still alive. Call it in
// a t.Cleanup registered first, so it runs last.
func AssertNoOrphans(t testing.TB) {
	t.Helper()
	trackedMu.Lock()
	ps := append([]*proc.Process(nil), tracked...)
	trackedMu.Unlock()
	for _, p := range ps {
		ok := Poll(5*time.Second, func() bool { return !p.GroupAlive() })
		if !ok {
			t.Errorf("process group %d (%s) still alive", p.PID(), p.Spec.Name)
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		}
	}
}

// Poll calls cond every few milliseconds until it is true or d passes.
func Poll(d time.Duration, cond func() bool) bool {
	return wait.Until(context.Background(), d, cond)
}

// Eventually fails t with what if cond is not true within d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// WaitHTTP waits until url answers 200.
func WaitHTTP(t testing.TB, url string) {
	t.Helper()
	Eventually(t, 30*time.Second, url+" to answer 200", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// FreeAddr returns a free 127.0.0.1:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
