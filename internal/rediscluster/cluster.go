// Package rediscluster starts a real, private Redis Cluster on loopback (by
// default 3 masters, each with 1 replica: 6 redis-server processes) and a
// single master with one replica, so that tests, `offload run
// --redis-cluster` and the bench can show what a failover does to a queue
// without anyone having a cluster running. Each process is started through
// redisproc (its own process group, killed with its parent); Close removes
// every process and the temp directory, on success, error and Ctrl-C alike.
package rediscluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/hashslot"
	"github.com/offload/offload/internal/redisproc"
)

// Config configures a Cluster. Zero values take the defaults in brackets.
type Config struct {
	Masters  int // [3]
	Replicas int // per master [1]
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica takes over. Short here so that a
	// failover takes one to two seconds [500ms].
	NodeTimeout time.Duration
	AppendOnly  bool       // appendonly yes, appendfsync always on every node
	Bind        string     // address every node listens on and announces [127.0.0.1]
	Output      io.Writer  // redis-server logs; default: a file per node
	CPUs        cpuset.Set // every node pinned to these CPUs; nil: anywhere
}

func (c Config) withDefaults() Config {
	if c.Masters <= 0 {
		c.Masters = 3
	}
	if c.Replicas < 0 {
		c.Replicas = 0
	} else if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 500 * time.Millisecond
	}
	if c.Bind == "" {
		c.Bind = "127.0.0.1"
	}
	return c
}

// Node is one redis-server of a cluster or a pair.
type Node struct {
	srv *redisproc.Server
	mu  sync.Mutex
	// killed is set when the node was SIGKILLed on purpose, so health
	// checks skip it.
	killed bool
}

// Addr is host:port.
func (n *Node) Addr() string { return n.srv.Addr() }

// PID is the process id (0 once stopped).
func (n *Node) PID() int { return n.srv.PID() }

// Kill stops the node with SIGKILL, as a crash would.
func (n *Node) Kill() error {
	n.mu.Lock()
	n.killed = true
	n.mu.Unlock()
	return n.srv.Kill()
}

// Killed reports whether Kill was called.
func (n *Node) Killed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.killed
}

// ReplicationGap is how many bytes of master's replication stream replica
// had not processed, read from both (master first) at nearly one instant:
// what a failover now could lose. 0 means the replica had everything the
// master had when it was asked.
func ReplicationGap(ctx context.Context, master, replica *Node) (int64, error) {
	off := func(n *Node) (int64, error) {
		rdb := n.client()
		defer rdb.Close()
		info, err := rdb.Info(ctx, "replication").Result()
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(fields(info)["master_repl_offset"], 10, 64)
	}
	m, err := off(master)
	if err != nil {
		return 0, err
	}
	r, err := off(replica)
	if err != nil {
		return 0, err
	}
	return max(m-r, 0), nil
}

// CPU is the processor time the node has used so far (INFO cpu: system
// plus user). Redis runs commands on one thread, so what a workload costs
// a master per operation bounds what one core can serve.
func (n *Node) CPU(ctx context.Context) (time.Duration, error) {
	rdb := n.client()
	defer rdb.Close()
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("info cpu %s: %w", n.Addr(), err)
	}
	f := fields(info)
	var total float64
	for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, err := strconv.ParseFloat(f[k], 64)
		if err != nil {
			return 0, fmt.Errorf("info cpu %s: %s %q: %w", n.Addr(), k, f[k], err)
		}
		total += v
	}
	return time.Duration(total * float64(time.Second)), nil
}

// MastersCPU is the processor time the current masters have used so far,
// summed: read before and after a workload, what the workload cost them.
func (c *Cluster) MastersCPU(ctx context.Context) (time.Duration, error) {
	shards, err := c.Shards(ctx)
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, s := range shards {
		d, err := s.Master.CPU(ctx)
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// Server is the node's redisproc handle.
func (n *Node) Server() *redisproc.Server { return n.srv }

func (n *Node) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
}

// Cluster is a running Redis Cluster. Build it with Start.
type Cluster struct {
	cfg   Config
	dir   string
	nodes []*Node
}

// Available reports whether redis-server and redis-cli are both on PATH.
func Available() error {
	if err := redisproc.Available(); err != nil {
		return err
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return errors.New("redis-cli not found: it comes with redis-server (`sudo apt-get install redis-server`)")
	}
	return nil
}

// Start launches Masters×(1+Replicas) nodes on free ports, forms them into a
// cluster with `redis-cli --cluster create`, and returns once every node
// sees cluster_state:ok, every slot is served and every replica is in sync.
// On any error everything started so far is removed.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dir, err := redisproc.TempDir("offload-cluster-")
	if err != nil {
		return nil, fmt.Errorf("cluster: temp dir: %w", err)
	}
	c := &Cluster{cfg: cfg, dir: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	total := cfg.Masters * (1 + cfg.Replicas)
	for i := range total {
		n, err := startNode(ctx, filepath.Join(dir, "node-"+strconv.Itoa(i)), cfg, clusterArgs(cfg))
		if err != nil {
			return nil, fmt.Errorf("cluster node %d: %w", i, err)
		}
		c.nodes = append(c.nodes, n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(cfg.Replicas), "--cluster-yes")
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, lastLines(out, 5))
	}
	if err := c.WaitHealthy(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

func clusterArgs(cfg Config) []string {
	a := []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(cfg.NodeTimeout.Milliseconds(), 10),
		// A replica whose link broke a while ago may still take over: in a
		// bench that just SIGKILLed its master, the alternative is no
		// failover at all.
		"--cluster-replica-validity-factor", "0",
		// The other masters keep serving their slots while one shard fails
		// over, as managed offerings default to: a failover then costs the
		// jobs of one shard, not the whole cluster.
		"--cluster-require-full-coverage", "no",
		"--cluster-announce-ip", cfg.Bind,
	}
	return a
}

// startNode starts one redis-server in dir, retrying on a port race.
func startNode(ctx context.Context, dir string, cfg Config, extra []string) (*Node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("node dir: %w", err)
	}
	var last error
	for range 3 {
		port, err := redisproc.FreePort()
		if err != nil {
			return nil, err
		}
		// A replica's first sync is diskless (Redis 7's default), and the
		// master waits repl-diskless-sync-delay (5s) for more replicas to
		// share the transfer: five seconds added to every pair, cluster
		// and rejoin, for nothing on loopback.
		args := append([]string{"--repl-diskless-sync-delay", "0"}, extra...)
		if slices.Contains(extra, "--cluster-enabled") {
			bus, err := redisproc.FreePort()
			if err != nil {
				return nil, err
			}
			args = append(args, "--cluster-port", strconv.Itoa(bus))
		}
		srv, err := redisproc.Start(ctx, redisproc.Config{Port: port, Dir: dir, AppendOnly: cfg.AppendOnly,
			Bind: cfg.Bind, Args: args, Output: cfg.Output, CPUs: cfg.CPUs})
		if err == nil {
			return &Node{srv: srv}, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(bytes.ToValidUTF8(b, nil))), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// Nodes are all nodes, in start order (killed ones included).
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Addrs are every node's host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// URL is go-redis's cluster URL form: redis://n1?addr=n2&addr=n3..., so a
// client knows every node even if the first is down.
func (c *Cluster) URL() string {
	var b strings.Builder
	b.WriteString("redis://" + c.nodes[0].Addr())
	for i, n := range c.nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		b.WriteString(sep + "addr=" + n.Addr())
	}
	return b.String()
}

// Close kills every node and removes the directory. Safe twice.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.srv.Close()
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
		c.dir = ""
	}
}

// Shard is one master, its slot ranges and its replicas, as the cluster
// sees it now.
type Shard struct {
	Master   *Node
	Replicas []*Node
	Slots    [][2]int // inclusive ranges
}

// Owns reports whether slot is in one of the shard's ranges.
func (s Shard) Owns(slot int) bool {
	for _, r := range s.Slots {
		if slot >= r[0] && slot <= r[1] {
			return true
		}
	}
	return false
}

// Shards asks a live node for CLUSTER NODES and returns one Shard per
// master that serves slots.
func (c *Cluster) Shards(ctx context.Context) ([]Shard, error) {
	var last error
	for _, n := range c.nodes {
		if n.Killed() {
			continue
		}
		shards, err := c.shardsFrom(ctx, n)
		if err == nil {
			return shards, nil
		}
		last = err
	}
	if last == nil {
		last = errors.New("no live node")
	}
	return nil, fmt.Errorf("cluster nodes: %w", last)
}

func (c *Cluster) shardsFrom(ctx context.Context, n *Node) ([]Shard, error) {
	rdb := n.client()
	defer rdb.Close()
	txt, err := rdb.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	byAddr := map[string]*Node{}
	for _, x := range c.nodes {
		byAddr[x.Addr()] = x
	}
	type row struct {
		id, addr, master string
		isMaster, failed bool
		slots            [][2]int
	}
	var rows []row
	for _, line := range strings.Split(strings.TrimSpace(txt), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		r := row{id: f[0], addr: strings.Split(f[1], "@")[0], master: f[3],
			isMaster: strings.Contains(f[2], "master"), failed: strings.Contains(f[2], "fail")}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") { // a slot being migrated
				continue
			}
			lo, hi, found := strings.Cut(s, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if found {
				b, _ = strconv.Atoi(hi)
			}
			r.slots = append(r.slots, [2]int{a, b})
		}
		rows = append(rows, r)
	}
	var shards []Shard
	for _, r := range rows {
		if !r.isMaster || r.failed || len(r.slots) == 0 || byAddr[r.addr] == nil {
			continue
		}
		s := Shard{Master: byAddr[r.addr], Slots: r.slots}
		for _, x := range rows {
			if x.master == r.id && byAddr[x.addr] != nil {
				s.Replicas = append(s.Replicas, byAddr[x.addr])
			}
		}
		shards = append(shards, s)
	}
	return shards, nil
}

// ShardOf is the shard that serves key now.
func (c *Cluster) ShardOf(ctx context.Context, key string) (Shard, error) {
	shards, err := c.Shards(ctx)
	if err != nil {
		return Shard{}, err
	}
	slot := hashslot.Slot(key)
	for _, s := range shards {
		if s.Owns(slot) {
			return s, nil
		}
	}
	return Shard{}, fmt.Errorf("no master serves slot %d (key %q)", slot, key)
}

// WaitHealthy waits until every live node reports cluster_state:ok with
// all slots served, and every live replica's link to its master is up.
func (c *Cluster) WaitHealthy(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	for {
		if last = c.healthy(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy after %v: %w", d, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) healthy(ctx context.Context) error {
	live := 0
	for _, n := range c.nodes {
		if !n.Killed() {
			live++
		}
	}
	for _, n := range c.nodes {
		if n.Killed() {
			continue
		}
		rdb := n.client()
		info, err := rdb.ClusterInfo(ctx).Result()
		if err != nil {
			rdb.Close()
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
		f := fields(info)
		if f["cluster_state"] != "ok" || f["cluster_slots_ok"] != strconv.Itoa(hashslot.Slots) {
			rdb.Close()
			return fmt.Errorf("%s: cluster_state %s, slots ok %s", n.Addr(), f["cluster_state"], f["cluster_slots_ok"])
		}
		if known, _ := strconv.Atoi(f["cluster_known_nodes"]); known < live {
			rdb.Close()
			return fmt.Errorf("%s knows %d of %d nodes", n.Addr(), known, live)
		}
		repl, err := rdb.Info(ctx, "replication").Result()
		rdb.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
		r := fields(repl)
		if r["role"] == "slave" && (r["master_link_status"] != "up" || r["master_sync_in_progress"] != "0") {
			return fmt.Errorf("%s: replica link %s", n.Addr(), r["master_link_status"])
		}
	}
	return nil
}

// fields parses INFO-style "key:value" lines.
func fields(info string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = v
		}
	}
	return m
}

// Failover SIGKILLs the master that serves key and waits until one of its
// replicas serves that slot. It returns the killed node and how long the
// cluster took to promote a replica (as seen from a surviving node).
func (c *Cluster) Failover(ctx context.Context, key string, d time.Duration) (*Node, time.Duration, error) {
	s, err := c.ShardOf(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	if len(s.Replicas) == 0 {
		return nil, 0, fmt.Errorf("master %s has no replica to promote", s.Master.Addr())
	}
	start := time.Now()
	if err := s.Master.Kill(); err != nil {
		return nil, 0, fmt.Errorf("kill master %s: %w", s.Master.Addr(), err)
	}
	err = c.WaitPromoted(ctx, s, d)
	return s.Master, time.Since(start), err
}

// Rejoin starts a killed node again on its port and directory: its
// nodes.conf makes it rejoin the cluster, as a replica of the node that
// took its place. It returns once the whole cluster is healthy again.
func (c *Cluster) Rejoin(ctx context.Context, n *Node, d time.Duration) error {
	if err := n.srv.Restart(ctx, true); err != nil {
		return fmt.Errorf("restart %s: %w", n.Addr(), err)
	}
	n.mu.Lock()
	n.killed = false
	n.mu.Unlock()
	return c.WaitHealthy(ctx, d)
}

// WaitPromoted waits until a replica of shard s (whose master was killed)
// serves s's slots as a master.
func (c *Cluster) WaitPromoted(ctx context.Context, s Shard, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		shards, err := c.Shards(ctx)
		if err == nil {
			for _, now := range shards {
				if now.Master != s.Master && len(s.Slots) > 0 && now.Owns(s.Slots[0][0]) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no replica of %s took over within %v", s.Master.Addr(), d)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
