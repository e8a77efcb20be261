// Package ipc frames messages between processes on one machine: a 4-byte
// big-endian length, then that many bytes of JSON. localipc's supervisor
// and its children talk this way over a Unix socket, as Node's cluster
// module talks over its IPC channel ("it's all just message passing").
//
// Frames over MaxFrame are refused on both ends, so a confused or hostile
// peer cannot make the reader allocate without bound.
package ipc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxFrame bounds one message: a job body is at most 64 KiB, so 1 MiB
// leaves room for any batch of ids and still bounds memory.
const MaxFrame = 1 << 20

// ErrFrameTooLarge is a frame over MaxFrame.
var ErrFrameTooLarge = errors.New("ipc frame too large")

// Conn is one framed connection. Writes are safe from several goroutines;
// reads belong to one.
type Conn struct {
	c  net.Conn
	r  *bufio.Reader
	mu sync.Mutex // guards w
	w  *bufio.Writer
}

// NewConn frames c.
func NewConn(c net.Conn) *Conn {
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
}

// Dial connects to the Unix socket at path, as Listen named it.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("ipc dial %s: %w", path, err)
	}
	return NewConn(c), nil
}

// Send writes v as one frame and flushes it. timeout > 0 bounds the write,
// so a peer that stopped reading cannot hold the caller forever.
func (c *Conn) Send(v any, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if timeout > 0 {
		_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
		defer c.c.SetWriteDeadline(time.Time{})
	}
	if err := c.writeLocked(v); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("ipc send: %w", err)
	}
	return nil
}

// SendBatch writes every v and flushes once: one syscall for many small
// messages.
func (c *Conn) SendBatch(vs []any, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if timeout > 0 {
		_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
		defer c.c.SetWriteDeadline(time.Time{})
	}
	for _, v := range vs {
		if err := c.writeLocked(v); err != nil {
			return err
		}
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("ipc send: %w", err)
	}
	return nil
}

func (c *Conn) writeLocked(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("ipc encode: %w", err)
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("ipc send: %w: %d bytes, limit %d", ErrFrameTooLarge, len(b), MaxFrame)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := c.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("ipc send: %w", err)
	}
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("ipc send: %w", err)
	}
	return nil
}

// Recv reads the next frame into v. io.EOF means the peer closed cleanly
// between frames.
func (c *Conn) Recv(v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("ipc recv: peer closed mid-header: %w", err)
		}
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return fmt.Errorf("ipc recv: %w: %d bytes, limit %d", ErrFrameTooLarge, n, MaxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return fmt.Errorf("ipc recv: peer closed mid-frame: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("ipc decode: %w", err)
	}
	return nil
}

// Close closes the connection; a blocked Recv returns.
func (c *Conn) Close() error { return c.c.Close() }
