package ipc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/ipc"
)

type msg struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func pair(t *testing.T) (*ipc.Conn, net.Conn) {
	t.Helper()
	ln, err := ipc.Listen("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := ipc.Dial(context.Background(), ln.Path)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func TestRoundTripAndBatch(t *testing.T) {
	c, raw := pair(t)
	s := ipc.NewConn(raw)
	if err := c.Send(msg{"job", "hello"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.SendBatch([]any{msg{"a", "1"}, msg{"b", "2"}}, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []msg{{"job", "hello"}, {"a", "1"}, {"b", "2"}} {
		var got msg
		if err := s.Recv(&got); err != nil || got != want {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	}
	c.Close()
	var got msg
	if err := s.Recv(&got); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

func TestRefusesOversizeFrames(t *testing.T) {
	c, raw := pair(t)
	if err := c.Send(msg{Text: strings.Repeat("x", ipc.MaxFrame)}, 0); !errors.Is(err, ipc.ErrFrameTooLarge) {
		t.Fatalf("send: %v, want ErrFrameTooLarge", err)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], ipc.MaxFrame+1)
	go func() { _, _ = raw.Write(hdr[:]) }()
	var got msg
	if err := c.Recv(&got); !errors.Is(err, ipc.ErrFrameTooLarge) {
		t.Fatalf("recv: %v, want ErrFrameTooLarge", err)
	}
}

// The socket file of the portable kind (macOS's only kind; on Linux
// OFFLOAD_IPC=file selects it) sits in a directory only its owner can
// enter, carries frames, and leaves nothing on disk once closed.
func TestListenFile(t *testing.T) {
	for _, kind := range []string{"default", "file"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "file" {
				t.Setenv("OFFLOAD_IPC", "file")
			}
			ln, err := ipc.Listen("test")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			onDisk := !strings.HasPrefix(ln.Path, "@")
			if kind == "file" && !onDisk {
				t.Fatalf("OFFLOAD_IPC=file listened on %q, want a socket file", ln.Path)
			}
			if onDisk {
				fi, err := os.Stat(filepath.Dir(ln.Path))
				if err != nil {
					t.Fatal(err)
				}
				if perm := fi.Mode().Perm(); perm != 0o700 {
					t.Fatalf("socket dir mode %v, want 0700", perm)
				}
			}
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s := ipc.NewConn(c)
				var m msg
				if s.Recv(&m) == nil {
					_ = s.Send(msg{"echo", m.Text}, 0)
				}
			}()
			c, err := ipc.Dial(context.Background(), ln.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Send(msg{"job", "hi"}, time.Second); err != nil {
				t.Fatal(err)
			}
			var got msg
			if err := c.Recv(&got); err != nil || got != (msg{"echo", "hi"}) {
				t.Fatalf("got %+v, %v", got, err)
			}
			if err := ln.Close(); err != nil {
				t.Fatal(err)
			}
			if onDisk {
				if _, err := os.Stat(filepath.Dir(ln.Path)); !os.IsNotExist(err) {
					t.Fatalf("socket dir still there after Close: %v", err)
				}
			}
		})
	}
}
