package rediscluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// link is the path of a pair's replication stream, from the master to its
// replica, through the harness: on loopback a replica is never behind
// (the master writes each command to its replica in the same event-loop
// pass as the reply), so a failover there can never show what asynchronous
// replication loses. Hold makes the replica fall behind as it does over a
// slow or congested link: the master's bytes stop reaching it, while the
// master goes on acknowledging writes. Release forwards what was held. If
// the master dies while the link is held, the held bytes die with it: the
// writes the master acknowledged in that time are on no replica.
//
// The replica's own replies (REPLCONF ACK offsets) pass unheld, so WAIT on
// the master sees the replica as behind and blocks, as it would.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cond  *sync.Cond
	held  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLink(target string) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("replication link: %w", err)
	}
	l := &link{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	l.cond = sync.NewCond(&l.mu)
	l.wg.Go(l.accept)
	return l, nil
}

func (l *link) hostPort() (string, string) {
	return "127.0.0.1", strconv.Itoa(l.ln.Addr().(*net.TCPAddr).Port)
}

func (l *link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		l.mu.Lock()
		l.conns[c], l.conns[up] = struct{}{}, struct{}{}
		l.mu.Unlock()
		l.wg.Go(func() { l.pipe(c, up, true) })  // master -> replica: may be held
		l.wg.Go(func() { l.pipe(up, c, false) }) // replica -> master
	}
}

// pipe copies src to dst. A holdable pipe reads into a buffer and writes
// it out only while the link is not held, so what the master sends
// meanwhile stays here, and is lost if the master dies first.
func (l *link) pipe(dst, src net.Conn, holdable bool) {
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		l.mu.Lock()
		delete(l.conns, dst)
		delete(l.conns, src)
		l.mu.Unlock()
	}()
	if !holdable {
		_, _ = io.Copy(dst, src)
		return
	}
	var (
		pending []byte
		done    bool // src ended: the master is gone
	)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			l.mu.Lock()
			pending = append(pending, buf[:n]...)
			done = err != nil
			l.cond.Broadcast()
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for !done && (l.held || len(pending) == 0) {
			l.cond.Wait()
		}
		if l.held || len(pending) == 0 {
			return // ended while held, or with nothing left to forward
		}
		out := pending
		pending = nil
		l.mu.Unlock()
		_, err := dst.Write(out)
		l.mu.Lock()
		if err != nil {
			return
		}
	}
}

// hold stops the master's bytes from reaching the replica.
func (l *link) hold() { l.setHeld(true) }

// release forwards what was held, and everything after it.
func (l *link) release() { l.setHeld(false) }

func (l *link) setHeld(h bool) {
	l.mu.Lock()
	l.held = h
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *link) close() {
	_ = l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.held = false
	l.cond.Broadcast()
	l.mu.Unlock()
	l.wg.Wait()
}
