package ipc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/offload/offload/internal/ipc"
)

type msg struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func pair(t *testing.T) (*ipc.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", "@offload-ipc-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := ipc.Dial(context.Background(), ln.Addr().String())
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
