package localipc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/offload/offload/internal/ipc"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/memqueue"
)

// startLeader runs a leader's socket (no children) for the test.
func startLeader(t *testing.T) (*leader, string) {
	t.Helper()
	path := fmt.Sprintf("@offload-localipc-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	l := &leader{log: slog.New(slog.NewTextHandler(io.Discard, nil)), held: map[string]struct{}{}}
	go l.accept(ln)
	return l, path
}

func dial(t *testing.T, path, role string) *ipc.Conn {
	t.Helper()
	c, err := hello(context.Background(), path, role)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (l *leader) check(f func(*leader) bool) func() bool {
	return func() bool { l.mu.Lock(); defer l.mu.Unlock(); return f(l) }
}

func recvType(t *testing.T, c *ipc.Conn, want string) message {
	t.Helper()
	for {
		var m message
		if err := c.Recv(&m); err != nil {
			t.Fatalf("waiting for a %q frame: %v", want, err)
		}
		if m.Type == want {
			return m
		}
	}
}

// A web child that stops reading makes the leader's send fail; the final
// state it could not take reaches the web child's next connection instead
// of leaving the job "accepted" forever.
func TestLeaderKeepsAFinalStateWhoseSendFailed(t *testing.T) {
	l, path := startLeader(t)
	wk := dial(t, path, roleWorker)
	itest.Eventually(t, 5*time.Second, "the worker to connect", l.check(func(l *leader) bool { return l.worker != nil }))

	// The leader's end of a pipe nobody reads: every send times out.
	stuck, _ := net.Pipe()
	l.mu.Lock()
	l.web = ipc.NewConn(stuck)
	l.mu.Unlock()
	l.route(job.Job{ID: "a"})
	recvType(t, wk, "job")
	if err := wk.Send(message{Type: "state", State: &memqueue.State{ID: "a", Status: memqueue.StatusDone, Attempts: 1}}, sendTimeout); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 3*sendTimeout, "the failed send to be noticed", l.check(func(l *leader) bool { return l.web == nil && len(l.unsent) == 1 }))

	web := dial(t, path, roleWeb)
	m := recvType(t, web, "state")
	if m.State.ID != "a" || m.State.Status != memqueue.StatusDone {
		t.Fatalf("the reconnected web child got %+v, want a's done", m.State)
	}
}

// The worker dies while the web child is away: the loss is told when the
// web child is back.
func TestLeaderTellsAReturningWebChildWhatWasLost(t *testing.T) {
	l, path := startLeader(t)
	wk := dial(t, path, roleWorker)
	web := dial(t, path, roleWeb)
	itest.Eventually(t, 5*time.Second, "both children to connect", l.check(func(l *leader) bool { return l.worker != nil && l.web != nil }))
	if err := web.Send(message{Type: "job", Job: &job.Job{ID: "b"}}, sendTimeout); err != nil {
		t.Fatal(err)
	}
	recvType(t, wk, "job")
	web.Close()
	itest.Eventually(t, 5*time.Second, "the web child to be gone", l.check(func(l *leader) bool { return l.web == nil }))
	wk.Close()
	itest.Eventually(t, 5*time.Second, "the loss to be kept", l.check(func(l *leader) bool { return len(l.unsent) == 1 }))

	back := dial(t, path, roleWeb)
	if m := recvType(t, back, "lost"); len(m.IDs) != 1 || m.IDs[0] != "b" {
		t.Fatalf("lost ids %v, want [b]", m.IDs)
	}
	itest.Eventually(t, 5*time.Second, "nothing left unsent", l.check(func(l *leader) bool { return len(l.unsent) == 0 }))
}
