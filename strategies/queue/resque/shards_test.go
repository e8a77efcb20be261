package resque

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/offload/offload/internal/hashslot"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/rediscluster"
)

// Under a backlog every shard gets a claim each round, however deep the
// others are: a shard with 1000 jobs does not starve two with 5 each.
func TestClaimRotatesOverShards(t *testing.T) {
	srv := itest.Redis(t)
	ctx := context.Background()
	c, err := Open(ctx, Options{URL: srv.URL(), Namespace: "fair", Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	shards := c.Shards()
	if len(shards) != 3 {
		t.Fatalf("%d shards, want 3", len(shards))
	}
	fill := []int{1000, 5, 5}
	for i, n := range fill {
		for j := range n {
			raw, _ := Encode("email", "sendEmail", map[string]string{"id": fmt.Sprintf("s%d-%d", i, j)})
			if err := shards[i].Enqueue(ctx, "email", fmt.Sprintf("s%d-%d", i, j), raw); err != nil {
				t.Fatal(err)
			}
		}
	}
	k, err := NewConsumer(c, ConsumerConfig{Handler: func(context.Context, Job) error { return nil }, Worker: Worker{Name: "w:1"}})
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	for range 6 {
		jobs, err := k.claim(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			t.Fatal("claim found nothing with a backlog in every shard")
		}
		for _, j := range jobs {
			if j.Shard != jobs[0].Shard {
				t.Fatalf("one claim mixed shards %d and %d", jobs[0].Shard, j.Shard)
			}
		}
		order = append(order, jobs[0].Shard)
	}
	if want := "[0 1 2 0 1 2]"; fmt.Sprint(order) != want {
		t.Fatalf("claimed from shards %v, want %s", order, want)
	}
	// The two small shards are now empty: claims go on from the big one.
	for range 3 {
		jobs, err := k.claim(ctx, 3)
		if err != nil || len(jobs) != 3 || jobs[0].Shard != 0 {
			t.Fatalf("after the small shards drained: %d jobs from shard %v (%v)", len(jobs), jobs, err)
		}
	}
}

// Each shard's namespace is one hash slot on a different master of a
// 3-master cluster, and a job is stored in the shard ShardFor names.
func TestShardsLandOnDifferentMasters(t *testing.T) {
	cl := itest.Cluster(t, rediscluster.Config{})
	ctx := context.Background()
	c, err := Open(ctx, Options{URL: cl.URL(), Namespace: "resque", Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	masters := map[string]int{}
	for i, s := range c.Shards() {
		sh, err := cl.ShardOf(ctx, s.keys.Queue("email"))
		if err != nil {
			t.Fatal(err)
		}
		masters[sh.Master.Addr()]++
		// Every key of the shard is in one slot.
		for _, k := range []string{s.keys.Inflight("w"), s.keys.Job("x"), s.keys.Schedule(), s.keys.Failed()} {
			if hashslot.Slot(k) != hashslot.Slot(s.keys.Queue("email")) {
				t.Errorf("shard %d: key %s in another slot", i, k)
			}
		}
	}
	if len(masters) != 3 {
		t.Fatalf("3 shards on %d masters: %v", len(masters), masters)
	}
	for i := range 30 {
		id := fmt.Sprintf("job-%d", i)
		raw, _ := Encode("email", "sendEmail", map[string]string{"id": id})
		s := c.ShardFor(id)
		if err := s.Enqueue(ctx, "email", id, raw); err != nil {
			t.Fatal(err)
		}
		if st, err := s.Status(ctx, id); err != nil || st.Status != "queued" {
			t.Fatalf("status of %s in its shard: %+v, %v", id, st, err)
		}
	}
	per, err := c.ShardStats(ctx, "email")
	if err != nil {
		t.Fatal(err)
	}
	total := Sum(per)
	if total.Length != 30 {
		t.Fatalf("total length %d, want 30", total.Length)
	}
	for _, s := range per {
		if s.Length == 0 {
			t.Errorf("shard %s got none of 30 jobs", s.Namespace)
		}
	}

	// Shard 0's master dies, and its replica with it, so that no failover
	// brings the shard back: the jobs hashed to shard 0 are placed in the
	// others, GET /jobs/{id} still finds them, and the dead master is
	// tried again only after a pause, not once per job.
	sh, err := cl.ShardOf(ctx, c.Shards()[0].keys.Queue("email"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(sh.Replicas, sh.Master) {
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	tries := map[int]int{}
	placed := 0
	start := time.Now()
	for i := 0; placed < 20; i++ {
		id := fmt.Sprintf("spill-%d", i)
		if c.ShardFor(id).Index() != 0 {
			continue
		}
		raw, _ := Encode("email", "sendEmail", map[string]string{"id": id})
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Place(pctx, id, func(ctx context.Context, s *Client) error {
			tries[s.Index()]++
			return s.Enqueue(ctx, "email", id, raw)
		})
		cancel()
		if err != nil {
			t.Fatalf("place %s with shard 0's master dead: %v", id, err)
		}
		st, err := c.Find(ctx, id)
		if err != nil || st.Status != "queued" {
			t.Fatalf("find %s: %+v, %v", id, st, err)
		}
		placed++
	}
	probes := 1 + int(time.Since(start)/shardPause)
	if tries[0] > probes {
		t.Errorf("the dead shard was tried %d times in %v, want at most %d (once per pause)", tries[0], time.Since(start), probes)
	}
	if tries[1]+tries[2] != 20 {
		t.Errorf("the live shards stored %d of 20 jobs: %v", tries[1]+tries[2], tries)
	}
}
