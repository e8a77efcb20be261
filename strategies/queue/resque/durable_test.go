package resque

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/replwait"
)

// With Durability a job is reported stored only once the replica holds
// it; with the replica frozen the same enqueue is refused, while the
// default one still succeeds (and could be lost by a failover).
func TestDurableEnqueueWaitsForTheReplica(t *testing.T) {
	p := itest.Pair(t, rediscluster.Config{})
	ctx := context.Background()
	c, err := Open(ctx, Options{URL: p.URL(), Namespace: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDurability(replwait.Policy{Replicas: 1, Timeout: time.Second})
	raw, _ := Encode("email", "sendEmail", map[string]string{"id": "j1"})
	if err := c.Enqueue(ctx, "email", "j1", raw); err != nil {
		t.Fatal(err)
	}
	replica := redis.NewClient(&redis.Options{Addr: p.Replica.Addr()})
	defer replica.Close()
	if n := replica.LLen(ctx, c.keys.Queue("email")).Val(); n != 1 {
		t.Fatalf("replica holds %d jobs right after a durable enqueue, want 1", n)
	}

	freeze(t, p.Replica)
	raw2, _ := Encode("email", "sendEmail", map[string]string{"id": "j2"})
	err = c.Enqueue(ctx, "email", "j2", raw2)
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("durable enqueue with the replica frozen: %v, want ErrNotReplicated", err)
	}
	plain, err := Open(ctx, Options{URL: p.URL(), Namespace: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Enqueue(ctx, "email", "j3", raw2); err != nil {
		t.Fatalf("default enqueue with the replica frozen: %v, want success", err)
	}
}

// In a cluster WAIT runs on the master of the job's shard: freezing the
// replica of one shard refuses that shard's durable enqueues only.
func TestDurableEnqueueOnCluster(t *testing.T) {
	cl := itest.Cluster(t, rediscluster.Config{})
	ctx := context.Background()
	c, err := Open(ctx, Options{URL: cl.URL(), Namespace: "d", Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDurability(replwait.Policy{Replicas: 1, Timeout: time.Second})
	shards := c.Shards()
	sh, err := cl.ShardOf(ctx, shards[1].keys.Queue("email"))
	if err != nil {
		t.Fatal(err)
	}
	freeze(t, sh.Replicas[0])
	idIn := func(want int) string {
		for i := 0; ; i++ {
			id := fmt.Sprintf("job-%d", i)
			if c.ShardFor(id).Index() == want {
				return id
			}
		}
	}
	for shard, wantErr := range map[int]bool{0: false, 1: true, 2: false} {
		id := idIn(shard)
		raw, _ := Encode("email", "sendEmail", map[string]string{"id": id})
		err := c.ShardFor(id).Enqueue(ctx, "email", id, raw)
		if got := errors.Is(err, ErrNotReplicated); got != wantErr {
			t.Errorf("shard %d (replica frozen: %v): enqueue err = %v", shard, wantErr, err)
		}
	}
}

// freeze stops n with SIGSTOP until the test ends.
func freeze(t *testing.T, n *rediscluster.Node) {
	t.Helper()
	p := n.Server().Process()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Signal(syscall.SIGCONT) })
}
