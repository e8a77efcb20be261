package resque

import (
	"context"
	"testing"

	"github.com/offload/offload/internal/itest"
)

// A live worker's inflight list holding jobs the worker does not know of
// (a claim whose reply was lost) gets exactly those back on the queue,
// at its head; the jobs the worker holds stay.
func TestRequeueOrphans(t *testing.T) {
	srv := itest.Redis(t)
	ctx := context.Background()
	c, err := Open(ctx, Options{URL: srv.URL(), Namespace: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.rdb.Close()
	w := Worker{Name: "host:1", Queues: "email"}
	inflight, queue := c.keys.Inflight(w.Name), c.keys.Queue("email")
	c.rdb.RPush(ctx, inflight, "held", "orphan-1", "held", "orphan-2")
	c.rdb.RPush(ctx, queue, "waiting")

	var owned ownedSet
	owned.add(Job{Raw: "held"}, Job{Raw: "held"})
	n, err := c.RequeueOrphans(ctx, w, "email", owned.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("requeued %d, want 2", n)
	}
	if got := c.rdb.LRange(ctx, inflight, 0, -1).Val(); len(got) != 2 || got[0] != "held" || got[1] != "held" {
		t.Fatalf("inflight after = %v, want the two held jobs", got)
	}
	got := c.rdb.LRange(ctx, queue, 0, -1).Val()
	if len(got) != 3 || got[2] != "waiting" {
		t.Fatalf("queue after = %v, want both orphans ahead of the waiting job", got)
	}

	// Once acked (removed from owned and from the list), nothing is put back.
	owned.remove(Job{Raw: "held"}, Job{Raw: "held"})
	c.rdb.LRem(ctx, inflight, 0, "held")
	if n, err := c.RequeueOrphans(ctx, w, "email", owned.snapshot()); err != nil || n != 0 {
		t.Fatalf("second check requeued %d (%v), want 0", n, err)
	}
}
