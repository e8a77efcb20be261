package localipc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/offload/offload/internal/ipc"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies"
)

// maxPending bounds the jobs the leader holds while no worker is connected;
// past it, jobs are dropped and counted as lost (the web side cannot be
// told in time: its 202 is already out).
const maxPending = 1_000_000

// Run registers the leader's flags (the worker's knobs, passed on to the
// worker child) and returns the leader: what `offload run --strategy
// localipc` runs once the mail sink is up.
func Run(fs *flag.FlagSet) func(ctx context.Context, rc strategies.RunConfig) error {
	var f memqueue.Flags
	f.Register(fs)
	return func(ctx context.Context, rc strategies.RunConfig) error { return lead(ctx, rc, f) }
}

// leader relays jobs from the web child to the worker child and reports
// back; it owns what waits for a worker and knows what each worker held.
type leader struct {
	log *slog.Logger

	mu        sync.Mutex
	web       *ipc.Conn
	worker    *ipc.Conn
	workerPID int
	pending   []job.Job           // accepted while no worker was connected
	held      map[string]struct{} // relayed to the current worker, not final
	stats     memqueue.Stats      // the current worker's last report
	lost      int64
	// unsent are final states and losses the web child has not received
	// (it was away, or a send failed): sent first when it connects again,
	// so GET /jobs/{id} never says "accepted" for a job that ended.
	unsent  []message
	dropped int64 // unsent frames given up on because unsent was full
}

// maxUnsent bounds the frames kept for a web child that is away.
const maxUnsent = 100_000

func lead(ctx context.Context, rc strategies.RunConfig, f memqueue.Flags) error {
	log := rc.Logger
	if log == nil {
		log = slog.Default()
	}
	ln, err := ipc.Listen("localipc")
	if err != nil {
		return fmt.Errorf("localipc: %w", err)
	}
	defer ln.Close()
	path := ln.Path
	l := &leader{log: log, held: map[string]struct{}{}}
	go l.accept(ln)

	sup := proc.NewSupervisor(time.Second, log)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		sup.Stop(sctx)
	}()
	ipcArgs := []string{"--ipc-socket", path}
	web, err := sup.Add(proc.Spec{Name: "web", Path: rc.Executable, Args: append(rc.WebArgs, ipcArgs...), Output: rc.Stderr})
	if err != nil {
		return err
	}
	wk, err := sup.Add(proc.Spec{Name: "worker", Path: rc.Executable, Args: append(append(rc.WorkArgs, ipcArgs...), f.Args()...), Output: rc.Stderr})
	if err != nil {
		return err
	}
	log.Info("leader started children", "leader_pid", os.Getpid(), "web_pid", web.PID(), "worker_pid", wk.PID(), "ipc", path)
	if !wait.Until(ctx, 30*time.Second, func() bool { return wait.HTTPOK(ctx, rc.WebURL+"/healthz") }) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("localipc: web child did not answer /healthz within 30s (see its log above)")
	}
	fmt.Fprintf(rc.Stdout, "offload run: strategy localipc (leader pid %d)\n", os.Getpid())
	fmt.Fprintf(rc.Stdout, "  web     %s  (pid %d)\n  worker  pid %d, rate %g/s, concurrency %d\n  mail    %s\n",
		rc.WebURL, web.PID(), wk.PID(), f.Rate, f.Concurrency, rc.SinkInfo)
	fmt.Fprintf(rc.Stdout, "try:\n  curl -s -X POST %s/jobs -d '{\"to\":\"you@example.org\",\"subject\":\"hi\",\"text\":\"hello\"}'\n", rc.WebURL)
	fmt.Fprintf(rc.Stdout, "  kill -9 %d   # the worker: the leader restarts it; what it held is lost\nCtrl-C stops everything.\n", wk.PID())
	l.relayStats(ctx, sup)
	log.Info("stopping", "pending", l.pendingLen())
	return nil
}

func (l *leader) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // listener closed
		}
		go l.serve(ipc.NewConn(c))
	}
}

// serve reads one child's frames until it goes away.
func (l *leader) serve(conn *ipc.Conn) {
	defer conn.Close()
	var hi message
	if err := conn.Recv(&hi); err != nil || hi.Type != "hello" {
		l.log.Warn("ipc peer without hello", "err", err)
		return
	}
	l.log.Info("child connected", "child", hi.Role, "pid", hi.PID)
	switch hi.Role {
	case roleWeb:
		l.setWeb(conn)
		l.serveWeb(conn)
	case roleWorker:
		l.setWorker(conn, hi.PID)
		l.serveWorker(conn, hi.PID)
	}
}

func (l *leader) setWeb(conn *ipc.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.web != nil {
		l.web.Close()
	}
	l.web = conn
	n := len(l.unsent)
	for len(l.unsent) > 0 {
		if err := conn.Send(l.unsent[0], sendTimeout); err != nil {
			l.dropWebLocked(conn, "catching up", err)
			return
		}
		l.unsent[0] = message{}
		l.unsent = l.unsent[1:]
	}
	if n > 0 {
		l.log.Info("web child caught up on final states it missed", "frames", n)
	}
}

// tellWeb sends the web child a final state or a loss, or keeps it for the
// web child's next connection. Under the lock, so frames keep their order.
func (l *leader) tellWeb(m message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.web != nil && len(l.unsent) == 0 {
		err := l.web.Send(m, sendTimeout)
		if err == nil {
			return
		}
		l.dropWebLocked(l.web, "relaying "+m.Type, err)
	}
	if len(l.unsent) >= maxUnsent {
		l.dropped++
		if l.dropped == 1 {
			l.log.Error("web child away too long: dropping the oldest final states it has not seen; GET /jobs/{id} keeps showing those jobs as accepted", "kept", maxUnsent)
		}
		l.unsent = l.unsent[1:]
	}
	l.unsent = append(l.unsent, m)
}

// dropWebLocked closes a web connection that failed a send: the web child
// reconnects, and what it missed is in unsent.
func (l *leader) dropWebLocked(conn *ipc.Conn, what string, err error) {
	l.log.Warn("send to the web child failed; dropping the connection until it reconnects", "while", what, "err", err)
	conn.Close()
	if l.web == conn {
		l.web = nil
	}
}

func (l *leader) serveWeb(conn *ipc.Conn) {
	for {
		var m message
		if err := conn.Recv(&m); err != nil {
			break
		}
		if m.Type == "job" && m.Job != nil {
			l.route(*m.Job)
		}
	}
	l.mu.Lock()
	if l.web == conn {
		l.web = nil
	}
	l.mu.Unlock()
	l.log.Warn("web child disconnected")
}

// route relays j to the worker, or keeps it until one connects.
func (l *leader) route(j job.Job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.worker != nil && len(l.pending) == 0 {
		if err := l.worker.Send(message{Type: "job", Job: &j}, sendTimeout); err == nil {
			l.held[j.ID] = struct{}{}
			return
		}
		// A worker that cannot take a frame is as good as dead; its reader
		// sees the end and reports what it held.
		l.worker.Close()
		l.worker = nil
	}
	if len(l.pending) >= maxPending {
		l.lost++
		l.log.Error("no worker and the leader's buffer is full: job lost", "job", j.ID)
		return
	}
	l.pending = append(l.pending, j)
}

func (l *leader) setWorker(conn *ipc.Conn, pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.worker != nil {
		l.worker.Close()
	}
	l.worker, l.workerPID = conn, pid
	l.stats = memqueue.Stats{}
	// What waited while no worker was up goes first, in order.
	n := 0
	for _, j := range l.pending {
		if err := conn.Send(message{Type: "job", Job: &j}, sendTimeout); err != nil {
			break
		}
		l.held[j.ID] = struct{}{}
		n++
	}
	l.pending = append(l.pending[:0:0], l.pending[n:]...)
	if n > 0 {
		l.log.Info("delivered jobs that waited for the worker", "jobs", n, "worker_pid", pid)
	}
}

// serveWorker relays the worker's reports to the web child; when the
// worker goes away, what it held is lost, and the web child is told.
func (l *leader) serveWorker(conn *ipc.Conn, pid int) {
	for {
		var m message
		if err := conn.Recv(&m); err != nil {
			break
		}
		switch {
		case m.Type == "state" && m.State != nil:
			l.relayState(m)
		case m.Type == "stats" && m.Stats != nil:
			l.mu.Lock()
			if l.worker == conn {
				l.stats = m.Stats.Worker
			}
			l.mu.Unlock()
		}
	}
	l.mu.Lock()
	if l.worker != conn {
		l.mu.Unlock()
		return
	}
	l.worker, l.workerPID, l.stats = nil, 0, memqueue.Stats{}
	ids := make([]string, 0, len(l.held))
	for id := range l.held {
		ids = append(ids, id)
	}
	clear(l.held)
	l.lost += int64(len(ids))
	l.mu.Unlock()
	l.log.Warn("worker gone; the jobs in its memory are lost", "worker_pid", pid, "lost", len(ids))
	for start := 0; start < len(ids); start += 10_000 { // stay under ipc.MaxFrame
		l.tellWeb(message{Type: "lost", IDs: ids[start:min(start+10_000, len(ids))]})
	}
}

// relayState passes a worker's report on to the web child. A final one
// must arrive (tellWeb); a progress report that finds no web child is
// superseded by the next one.
func (l *leader) relayState(m message) {
	if m.State.Status.Final() {
		l.mu.Lock()
		delete(l.held, m.State.ID)
		l.mu.Unlock()
		l.tellWeb(m)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.web != nil && len(l.unsent) == 0 {
		if err := l.web.Send(m, sendTimeout); err != nil {
			l.dropWebLocked(l.web, "relaying state", err)
		}
	}
}

// relayStats sends the web child the worker's counters and the leader's
// own every statsEvery, until ctx ends.
func (l *leader) relayStats(ctx context.Context, sup *proc.Supervisor) {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		r := relayed{Worker: l.stats, WorkerUp: l.worker != nil, WorkerPID: l.workerPID,
			Pending: len(l.pending), Restarts: sup.Restarts("worker"), Lost: l.lost}
		if l.web != nil {
			if err := l.web.Send(message{Type: "stats", Stats: &r}, sendTimeout); err != nil {
				l.dropWebLocked(l.web, "relaying stats", err)
			}
		}
		l.mu.Unlock()
	}
}

func (l *leader) pendingLen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}
