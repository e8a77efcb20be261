package eventbus_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/hashslot"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/eventbus"
	"github.com/offload/offload/strategies/strategytest"
)

// clusterKeys are the bench's cluster layout: one partition per master.
var clusterKeys = eventbus.Keys{Partitions: 3}

// clusterConsumer starts `offload work --strategy eventbus` on the cluster
// as a real process.
func clusterConsumer(t *testing.T, name string, cl *rediscluster.Cluster, smtp string, extra ...string) *proc.Process {
	t.Helper()
	args := append([]string{"work", "--strategy", "eventbus", "--redis", cl.URL(), "--smtp", smtp, "--consumer", name,
		"--partitions", "3"}, extra...)
	return itest.Start(t, name, args...)
}

// clusterWeb is the web side on the cluster, in this process.
func clusterWeb(t *testing.T, cl *rediscluster.Cluster, durable string) string {
	t.Helper()
	s, err := eventbus.NewWith(strategies.Config{RedisURL: cl.URL(), Durable: durable}, eventbus.Options{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	return strategytest.Serve(t, s, "go")
}

func clusterClient(t *testing.T, cl *rediscluster.Cluster) redis.UniversalClient {
	t.Helper()
	rdb, err := eventbus.Connect(context.Background(), cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// flush empties every master, so that one cluster serves several tests
// that each start from no events and no groups.
func flush(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	err := rdb.(*redis.ClusterClient).ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		return c.FlushAll(ctx).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// One cluster for the checks that leave it whole.
func TestCluster(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	cl := itest.Cluster(t, rediscluster.Config{})
	rdb := clusterClient(t, cl)
	ctx := context.Background()

	t.Run("partitions on distinct masters", func(t *testing.T) {
		masters := map[string]int{}
		for p, key := range clusterKeys.Streams() {
			slot, err := rdb.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if int(slot) != hashslot.Slot(key) {
				t.Errorf("%s: CLUSTER KEYSLOT %d, hashslot.Slot %d", key, slot, hashslot.Slot(key))
			}
			sh, err := cl.ShardOf(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if q, seen := masters[sh.Master.Addr()]; seen {
				t.Errorf("partitions %d and %d share master %s", q, p, sh.Master.Addr())
			}
			masters[sh.Master.Addr()] = p
			if e := clusterKeys.Errors("email", p); hashslot.Slot(e) != int(slot) {
				t.Errorf("%s is not in its stream's slot %d", e, slot)
			}
		}
		// Stats (and so `offload eventbus stats` and /metrics) name the
		// master of each partition.
		flush(t, rdb)
		stats, err := eventbus.Stats(ctx, rdb, clusterKeys)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stats {
			sh, err := cl.ShardOf(ctx, st.Stream)
			if err != nil {
				t.Fatal(err)
			}
			if st.Node != sh.Master.Addr() {
				t.Errorf("stats say %s is on %s; the cluster says %s", st.Stream, st.Node, sh.Master.Addr())
			}
		}
	})

	t.Run("stats find the web side's partitions", func(t *testing.T) {
		// The stream names depend on the partition count; `eventbus stats`
		// without --partitions reads the count the web side recorded, so
		// it shows all three partitions, not an empty partition 0.
		flush(t, rdb)
		clusterWeb(t, cl, "")
		out := runCLI(t, "eventbus", "stats", "--redis", cl.URL())
		for _, stream := range clusterKeys.Streams() {
			if !strings.Contains(out, stream) {
				t.Errorf("stats without --partitions do not show %s:\n%s", stream, out)
			}
		}
	})

	t.Run("conformance", func(t *testing.T) {
		strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
			flush(t, rdb)
			sink := itest.Sink(t, mailsink.Config{})
			clusterConsumer(t, "email", cl, sink.Addr())
			return strategytest.Setup{URL: clusterWeb(t, cl, ""), Sink: sink}
		})
	})

	// SIGKILL one email consumer mid-stream: the other claims its pending
	// entries on every partition's master, and every event is delivered.
	t.Run("killed consumer loses nothing", func(t *testing.T) {
		flush(t, rdb)
		sink := itest.Sink(t, mailsink.Config{Delay: 10 * time.Millisecond})
		base := clusterWeb(t, cl, "")
		flags := []string{"--concurrency", "6", "--claim-idle", "1s"}
		victim := clusterConsumer(t, "victim", cl, sink.Addr(), flags...)
		clusterConsumer(t, "survivor", cl, sink.Addr(), flags...)
		ids := postMany(t, base, 300)
		itest.Eventually(t, 30*time.Second, "60 deliveries", func() bool { return sink.Stats().Received >= 60 })
		if err := victim.Kill(); err != nil {
			t.Fatal(err)
		}
		strategytest.WaitDelivered(t, sink, ids, 60*time.Second)
		for _, s := range clusterKeys.Streams() {
			itest.Eventually(t, 30*time.Second, s+": the email group's pending list to empty", func() bool {
				p, err := rdb.XPending(ctx, s, "email").Result()
				return err == nil && p.Count == 0
			})
		}
		t.Logf("all 300 delivered; %d duplicates (mails the victim sent before its XACK)", duplicates(sink, ids))
	})
}

// accepted is what a poster was told: 202'd job ids, and how many of them
// went to partition 0 after mark was set.
type accepted struct {
	mu        sync.Mutex
	ids       []string
	mark      atomic.Bool
	afterMark atomic.Int64
}

func (a *accepted) add(id string) {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.mu.Unlock()
	if a.mark.Load() && clusterKeys.PartitionFor(id) == 0 {
		a.afterMark.Add(1)
	}
}

func (a *accepted) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ids)
}

// SIGKILL the master of partition 0 while events stream in with --durable
// wait: the replica is promoted, the web side and the consumer carry on by
// themselves, the email group is on the new master, every event answered
// 202 is in the new master's stream (a 202 meant the replica had it) and
// is delivered (duplicates allowed).
func TestClusterFailoverDurableWait(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	cl := itest.Cluster(t, rediscluster.Config{})
	rdb := clusterClient(t, cl)
	ctx := context.Background()
	sink := itest.Sink(t, mailsink.Config{})
	base := clusterWeb(t, cl, "wait")
	clusterConsumer(t, "email", cl, sink.Addr(), "--claim-idle", "1s")

	var got accepted
	stop := make(chan struct{})
	var posters sync.WaitGroup
	for w := range 2 {
		posters.Go(func() {
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := strategytest.Post(t, base, strategytest.MailJSON(fmt.Sprintf("poster %d event %d", w, i)), "")
				switch r.Code {
				case http.StatusAccepted:
					got.add(r.Body["id"].(string))
				case http.StatusServiceUnavailable: // the partition's master is away, or had no replica to confirm
				default:
					t.Errorf("post: %d %v", r.Code, r.Body)
					return
				}
			}
		})
	}
	stopPosting := sync.OnceFunc(func() { close(stop); posters.Wait() })
	defer stopPosting()

	stream0 := clusterKeys.Stream(0)
	itest.Eventually(t, 30*time.Second, "20 events in partition 0", func() bool { return rdb.XLen(ctx, stream0).Val() >= 20 })
	killed, took, err := cl.Failover(ctx, stream0, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s; a replica took over after %v", killed.Addr(), took)
	// Without a replica behind the new master, WAIT 1 cannot succeed:
	// partition 0 answers 503 until the old master is back as its replica.
	if err := cl.Rejoin(ctx, killed, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	got.mark.Store(true)
	itest.Eventually(t, 30*time.Second, "202s for partition 0 after the failover", func() bool { return got.afterMark.Load() >= 5 })
	stopPosting()

	ids := got.list()
	sh, err := cl.ShardOf(ctx, stream0)
	if err != nil {
		t.Fatal(err)
	}
	if sh.Master == killed {
		t.Fatalf("%s is still served by the killed master", stream0)
	}
	// Stats follow the partition to its new master.
	itest.Eventually(t, 10*time.Second, "stats to name the new master of "+stream0, func() bool {
		st, err := eventbus.Stats(ctx, rdb, clusterKeys)
		return err == nil && st[0].Node == sh.Master.Addr()
	})
	master := redis.NewClient(&redis.Options{Addr: sh.Master.Addr()})
	defer master.Close()
	groups, err := master.XInfoGroups(ctx, stream0).Result()
	if err != nil || !slices.ContainsFunc(groups, func(g redis.XInfoGroup) bool { return g.Name == "email" }) {
		t.Fatalf("groups on the new master of %s: %v, %v; want email", stream0, groups, err)
	}
	entries, err := master.XRange(ctx, stream0, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, e := range entries {
		stored[e.Values["id"].(string)] = true
	}
	in0 := 0
	for _, id := range ids {
		if clusterKeys.PartitionFor(id) != 0 {
			continue
		}
		in0++
		if !stored[id] {
			t.Errorf("event %s was answered 202 but is not on the promoted replica", id)
		}
	}
	strategytest.WaitDelivered(t, sink, ids, 60*time.Second)
	t.Logf("%d accepted (%d in partition 0), all delivered; %d duplicates", len(ids), in0, duplicates(sink, ids))
}
