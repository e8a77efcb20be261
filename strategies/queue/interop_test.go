package queue_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/queue"
	"github.com/offload/offload/strategies/queue/resque"
	"github.com/offload/offload/strategies/strategytest"
)

// nodeResque installs the real node-resque into a temp dir and returns the
// directory holding the interop script, or skips where node/npm are absent.
func nodeResque(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed: the node-resque interop test needs node and npm", bin)
		}
	}
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join("testdata", "interop.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "interop.js"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", "node-resque@9.7.1")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install node-resque: %v\n%s", err, out)
	}
	return dir
}

func redisPort(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// node-resque enqueues (now and in 1.5s); offload work performs both, the
// delayed one not before its time (Resque's delayed set has 1s resolution).
func TestInteropNodeResqueEnqueuesOffloadWorks(t *testing.T) {
	dir := nodeResque(t)
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	rs := itest.Redis(t)
	sink := itest.Sink(t, mailsink.Config{})
	itest.Start(t, "worker", "work", "--strategy", "queue", "--redis", rs.URL(), "--smtp", sink.Addr())
	now, later := job.NewID(), job.NewID()
	t0 := time.Now()
	node := func(args ...string) {
		cmd := exec.Command("node", append([]string{"interop.js"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("node %v: %v\n%s", args, err, out)
		}
	}
	node("enqueue", redisPort(rs.Addr()), fmt.Sprintf(`{"id":%q,"to":"a@example.org","subject":"from node","text":"hi"}`, now))
	node("enqueue", redisPort(rs.Addr()), fmt.Sprintf(`{"id":%q,"to":"a@example.org","subject":"from node, later","text":"hi"}`, later), "1500")
	strategytest.WaitDelivered(t, sink, []string{now, later}, 20*time.Second)
	d, _ := sink.Delivery(later)
	if at := d.First.Sub(t0); at < 900*time.Millisecond {
		t.Fatalf("job delayed 1.5s by node-resque ran after %v", at)
	}
}

// offload enqueues (now and with delay_ms 1500); a node-resque worker with
// its scheduler performs both, the delayed one not before its time.
func TestInteropOffloadEnqueuesNodeResqueWorks(t *testing.T) {
	dir := nodeResque(t)
	rs := itest.Redis(t)
	s, err := queue.New(strategies.Config{RedisURL: rs.URL(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	url := strategytest.Serve(t, s, "node")
	t0 := time.Now()
	now := strategytest.Post(t, url, strategytest.MailJSON("to node"), "")
	later := strategytest.Post(t, url, `{"to":"a@example.org","subject":"to node, later","delay_ms":1500}`, "")
	if now.Code != 202 || later.Code != 202 {
		t.Fatalf("enqueue: %d %d", now.Code, later.Code)
	}
	cmd := exec.Command("node", "interop.js", "work", redisPort(rs.Addr()), "2", "20000")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node-resque worker: %v\n%s", err, out)
	}
	seen := map[string]time.Time{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var line struct {
			At  int64   `json:"at"`
			Job job.Job `json:"job"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("node-resque output %q: %v", sc.Text(), err)
		}
		seen[line.Job.ID] = time.UnixMilli(line.At)
	}
	if _, ok := seen[now.Body["id"].(string)]; !ok {
		t.Fatalf("node-resque did not perform job %v: %s", now.Body["id"], out)
	}
	at, ok := seen[later.Body["id"].(string)]
	if !ok {
		t.Fatalf("node-resque did not perform delayed job %v: %s", later.Body["id"], out)
	}
	if at.Sub(t0) < 900*time.Millisecond {
		t.Fatalf("delayed job ran after %v", at.Sub(t0))
	}
}

// On a Redis Cluster, with the queue spread over three shards, each shard
// is a Resque namespace of its own ({resque-K}): node-resque, through an
// ioredis Cluster client pointed at that namespace, enqueues jobs our
// workers perform, and performs jobs we stored in that shard.
func TestInteropNodeResqueOnCluster(t *testing.T) {
	dir := nodeResque(t)
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	cl := itest.Cluster(t, rediscluster.Config{})
	port := redisPort(cl.Addrs()[0])
	ns := resque.ShardNamespaces(resque.DefaultNamespace, 3)[1]
	node := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", append([]string{"interop.js"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NR_CLUSTER=1", "NR_NAMESPACE="+ns)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("node %v on the cluster: %v\n%s%s", args, err, out, stderr)
		}
		return out
	}

	t.Run("node-resque enqueues, offload works", func(t *testing.T) {
		sink := itest.Sink(t, mailsink.Config{})
		itest.Start(t, "worker", "work", "--strategy", "queue", "--redis", cl.URL(), "--shards", "3", "--smtp", sink.Addr())
		id := job.NewID()
		node("enqueue", port, fmt.Sprintf(`{"id":%q,"to":"a@example.org","subject":"from node on a cluster","text":"hi"}`, id))
		strategytest.WaitDelivered(t, sink, []string{id}, 20*time.Second)
	})

	t.Run("offload enqueues, node-resque works", func(t *testing.T) {
		c, err := resque.Open(context.Background(), resque.Options{URL: cl.URL(), Shards: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		j := job.Job{ID: job.NewID(), To: "a@example.org", Subject: "to node on a cluster"}
		raw, err := resque.Encode(queue.Queue, queue.Class, j)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Shards()[1].Enqueue(context.Background(), queue.Queue, j.ID, raw); err != nil {
			t.Fatal(err)
		}
		out := node("work", port, "1", "20000")
		if !strings.Contains(string(out), j.ID) {
			t.Fatalf("node-resque on %s did not perform %s: %s", ns, j.ID, out)
		}
	})
}
