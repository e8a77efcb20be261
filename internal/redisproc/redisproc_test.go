package redisproc_test

import (
	"context"
	"net"
	"testing"

	"github.com/offload/offload/internal/itest"
)

func TestStartRestartClose(t *testing.T) {
	srv := itest.Redis(t, itest.AppendOnly())
	pid := srv.PID()
	if err := srv.Restart(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if srv.PID() == pid || srv.PID() == 0 {
		t.Fatalf("pid after restart = %d, was %d", srv.PID(), pid)
	}
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatalf("redis not listening after restart: %v", err)
	}
	c.Close()
	p := srv.Process()
	srv.Close()
	if p.GroupAlive() {
		t.Fatal("redis-server still running after Close")
	}
}
