package rediscluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/hashslot"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/rediscluster"
)

func TestClusterFormsSpreadsAndFailsOver(t *testing.T) {
	ctx := context.Background()
	c := itest.Cluster(t, rediscluster.Config{})
	nodes := c.Nodes()
	defer func() {
		c.Close()
		for _, n := range nodes {
			if n.Server().Process() != nil && n.Server().Process().GroupAlive() {
				t.Errorf("node %s still alive after Close", n.Addr())
			}
			if _, err := os.Stat(n.Server().Dir()); !os.IsNotExist(err) {
				t.Errorf("node dir %s left behind", n.Server().Dir())
			}
		}
	}()
	if len(nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(nodes))
	}
	shards, err := c.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 {
		t.Fatalf("%d masters, want 3", len(shards))
	}
	for _, s := range shards {
		if len(s.Replicas) != 1 {
			t.Errorf("master %s has %d replicas, want 1", s.Master.Addr(), len(s.Replicas))
		}
	}

	// go-redis keeps sending a dead master's slots to it until its next
	// state reload (60s by default); offload's clients reload every second.
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ClusterStateReloadInterval: time.Second})
	defer rdb.Close()
	// Our slot function agrees with the server's, hash tags included.
	for _, k := range []string{"a", "resque:queue:email", "{resque-3}:queue:email", "x{}y", "{}{a}", "offload:eventbus:events:{e-7}"} {
		want, err := rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := hashslot.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, server says %d", k, got, want)
		}
	}
	// Spread's tags land on three different masters.
	masters := map[string]bool{}
	for _, tag := range hashslot.Spread("resque", 3) {
		s, err := c.ShardOf(ctx, "{"+tag+"}:queue:email")
		if err != nil {
			t.Fatal(err)
		}
		masters[s.Master.Addr()] = true
	}
	if len(masters) != 3 {
		t.Fatalf("Spread tags on %d masters, want 3", len(masters))
	}

	key := "{" + hashslot.Spread("resque", 3)[1] + "}:k"
	// WAIT makes the write's presence on the replica a fact, not a race. It
	// counts the writes of its own connection: one pipeline on the master.
	m, err := rdb.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	pipe := m.Pipeline()
	pipe.Set(ctx, key, "v", 0)
	acked := pipe.Do(ctx, "WAIT", 1, 2000)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := acked.Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 after SET in one pipeline = %d, %v; want 1 replica", n, err)
	}
	old, took, err := c.Failover(ctx, key, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failover of %s took %v", old.Addr(), took)
	var got string
	ok := itest.Poll(10*time.Second, func() bool {
		got, err = rdb.Get(ctx, key).Result()
		return err == nil
	})
	if !ok || got != "v" {
		t.Fatalf("after failover GET = %q, %v", got, err)
	}
	if err := c.WaitHealthy(ctx, 10*time.Second); err != nil {
		t.Fatalf("cluster not healthy after failover: %v", err)
	}
}

func TestPairFailoverRepointsEndpoint(t *testing.T) {
	ctx := context.Background()
	p := itest.Pair(t, rediscluster.Config{})
	rdb := redis.NewClient(&redis.Options{Addr: p.Endpoint(), MaxRetries: 3})
	defer rdb.Close()
	for i := range 100 {
		if err := rdb.RPush(ctx, "l", i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := rdb.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v", n, err)
	}
	oldMaster := p.Master
	if _, err := p.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	if !oldMaster.Killed() || oldMaster.PID() != 0 {
		t.Fatalf("old master still running (pid %d)", oldMaster.PID())
	}
	var n int64
	var err error
	ok := itest.Poll(5*time.Second, func() bool {
		n, err = rdb.LLen(ctx, "l").Result()
		return err == nil
	})
	if !ok || n != 100 {
		t.Fatalf("after failover LLEN = %d, %v", n, err)
	}
	if err := rdb.RPush(ctx, "l", "after").Err(); err != nil {
		t.Fatalf("new master refuses writes: %v", err)
	}
	role, err := rdb.Do(ctx, "ROLE").Slice()
	if err != nil || fmt.Sprint(role[0]) != "master" {
		t.Fatalf("endpoint reaches a %v (%v), want the promoted master", role, err)
	}
}

// A held replication link is a replica behind its master: WAIT times out,
// Release catches it up, and a failover while held loses exactly what the
// master acknowledged meanwhile, which is the loss asynchronous
// replication allows and a loopback link never shows.
func TestPairHoldLosesAcknowledgedWritesOnFailover(t *testing.T) {
	ctx := context.Background()
	p := itest.Pair(t, rediscluster.Config{})
	rdb := redis.NewClient(&redis.Options{Addr: p.Endpoint(), MaxRetries: 3})
	defer rdb.Close()
	push := func(from, to int) {
		for i := from; i < to; i++ {
			if err := rdb.RPush(ctx, "l", i).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	push(0, 50)
	if n, err := rdb.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 before the hold = %d, %v", n, err)
	}
	p.Hold()
	push(50, 60)
	if n, err := rdb.Do(ctx, "WAIT", 1, 200).Int(); err != nil || n != 0 {
		t.Fatalf("WAIT 1 while held = %d, %v; want 0 (the replica is behind)", n, err)
	}
	if gap, err := rediscluster.ReplicationGap(ctx, p.Master, p.Replica); err != nil || gap == 0 {
		t.Fatalf("replication gap while held = %d, %v; want > 0", gap, err)
	}
	p.Release()
	if n, err := rdb.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 after release = %d, %v", n, err)
	}
	p.Hold()
	push(60, 80) // acknowledged by the master, held from the replica
	if _, err := p.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	var err error
	if !itest.Poll(5*time.Second, func() bool { n, err = rdb.LLen(ctx, "l").Result(); return err == nil }) {
		t.Fatalf("after failover: %v", err)
	}
	if n != 60 {
		t.Fatalf("after failover LLEN = %d, want 60: the 20 writes acknowledged while held are lost, the rest kept", n)
	}
}

// A pair on another address (the partition fault's) serves clients there:
// nodes, endpoint and replication link alike.
func TestPairOnBind(t *testing.T) {
	p := itest.Pair(t, rediscluster.Config{Bind: "127.0.0.2"})
	for _, a := range []string{p.Endpoint(), p.Master.Addr(), p.Replica.Addr()} {
		if host, _, _ := net.SplitHostPort(a); host != "127.0.0.2" {
			t.Errorf("%s: want it on 127.0.0.2", a)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: p.Endpoint()})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the endpoint %s: %v", p.Endpoint(), err)
	}
}
