package rediscluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// endpoint is a TCP forwarder whose target can be changed: the stand-in
// for a managed Redis's DNS name. Re-pointing closes every open
// connection, so no client keeps talking to the old master.
//
// The same forwarder carries a pair's replication stream, from the master
// to its replica, through the harness: on loopback a replica is never behind
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
type endpoint struct {
	ln net.Listener

	mu     sync.Mutex
	cond   *sync.Cond
	target string
	held   bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// newEndpoint listens on a free port of bind and forwards to target.
func newEndpoint(bind, target string) (*endpoint, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(bind, "0"))
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	e := &endpoint{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	e.cond = sync.NewCond(&e.mu)
	e.wg.Go(e.accept)
	return e, nil
}

func (e *endpoint) addr() string { return e.ln.Addr().String() }

func (e *endpoint) accept() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		e.mu.Lock()
		target := e.target
		e.mu.Unlock()
		up, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		e.mu.Lock()
		e.conns[c], e.conns[up] = struct{}{}, struct{}{}
		e.mu.Unlock()
		e.wg.Go(func() { e.pipe(c, up, true) })  // server -> client: may be held
		e.wg.Go(func() { e.pipe(up, c, false) }) // client -> server
	}
}

// pipe copies src to dst. A holdable pipe reads into a buffer and writes
// it out only while the endpoint is not held, so what the server sends
// meanwhile stays here, and is lost if the server dies first.
func (e *endpoint) pipe(dst, src net.Conn, holdable bool) {
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		e.mu.Lock()
		delete(e.conns, dst)
		delete(e.conns, src)
		e.mu.Unlock()
	}()
	if !holdable {
		_, _ = io.Copy(dst, src)
		return
	}
	var (
		pending []byte
		done    bool // src ended: the server is gone
	)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			e.mu.Lock()
			pending = append(pending, buf[:n]...)
			done = err != nil
			e.cond.Broadcast()
			e.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		for !done && (e.held || len(pending) == 0) {
			e.cond.Wait()
		}
		if e.held || len(pending) == 0 {
			return // ended while held, or with nothing left to forward
		}
		out := pending
		pending = nil
		e.mu.Unlock()
		_, err := dst.Write(out)
		e.mu.Lock()
		if err != nil {
			return
		}
	}
}

// hold stops the server's bytes from reaching the client.
func (e *endpoint) hold() { e.setHeld(true) }

// release forwards what was held, and everything after it.
func (e *endpoint) release() { e.setHeld(false) }

func (e *endpoint) setHeld(h bool) {
	e.mu.Lock()
	e.held = h
	e.cond.Broadcast()
	e.mu.Unlock()
}

func (e *endpoint) point(target string) {
	e.mu.Lock()
	e.target = target
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
}

func (e *endpoint) close() {
	_ = e.ln.Close()
	e.point("")
	e.setHeld(false)
	e.wg.Wait()
}
