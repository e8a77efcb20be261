package rediscluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/offload/offload/internal/redisproc"
)

// Pair is one master with one replica behind a stable endpoint, the shape
// of a managed single-shard Redis: clients connect to Endpoint(), never to
// a node. Failover does what such an offering's control plane does: the
// master dies, the replica is promoted with REPLICAOF NO ONE, and the
// endpoint is re-pointed to it (existing connections are cut, so clients
// reconnect to the new master as they would after a DNS change).
type Pair struct {
	Master, Replica *Node
	all             []*Node // for Close, whatever the roles are now
	old             *Node   // the master Failover or Promote replaced
	dir             string
	ep              *endpoint
	link            *endpoint // the replica's replication stream, through here (forward.go)
}

// StartPair starts a master and a replica of it, waits until the replica
// is in sync, and opens the endpoint on a free port of cfg.Bind.
func StartPair(ctx context.Context, cfg Config) (_ *Pair, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dir, err := redisproc.TempDir("offload-pair-")
	if err != nil {
		return nil, fmt.Errorf("pair: temp dir: %w", err)
	}
	p := &Pair{dir: dir}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.Master, err = startNode(ctx, filepath.Join(dir, "master"), cfg, nil); err != nil {
		return nil, fmt.Errorf("pair master: %w", err)
	}
	p.all = []*Node{p.Master}
	if p.link, err = newEndpoint(cfg.Bind, p.Master.Addr()); err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(p.link.addr())
	if p.Replica, err = startNode(ctx, filepath.Join(dir, "replica"), cfg, []string{"--replicaof", host, port}); err != nil {
		return nil, fmt.Errorf("pair replica: %w", err)
	}
	p.all = []*Node{p.Master, p.Replica}
	if err := waitReplica(ctx, p.Replica, 30*time.Second); err != nil {
		return nil, err
	}
	if p.ep, err = newEndpoint(cfg.Bind, p.Master.Addr()); err != nil {
		return nil, err
	}
	return p, nil
}

func waitReplica(ctx context.Context, n *Node, d time.Duration) error {
	rdb := n.client()
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		info, err := rdb.Info(ctx, "replication").Result()
		if err == nil {
			f := fields(info)
			if f["master_link_status"] == "up" && f["master_sync_in_progress"] == "0" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s not in sync after %v", n.Addr(), d)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Endpoint is the host:port clients use.
func (p *Pair) Endpoint() string { return p.ep.addr() }

// URL is redis://<endpoint>/0.
func (p *Pair) URL() string { return "redis://" + p.Endpoint() + "/0" }

// Hold makes the replica fall behind: the master's replication stream
// stops reaching it, while the master goes on acknowledging writes, as
// over a slow or congested link. A failover while held loses what the
// master acknowledged meanwhile; Release forwards it instead.
func (p *Pair) Hold() { p.link.hold() }

// Release ends a Hold: the replica gets everything the master sent.
func (p *Pair) Release() { p.link.release() }

// Failover SIGKILLs the master, promotes the replica with REPLICAOF NO ONE
// and re-points the endpoint. It returns how long the promotion took.
func (p *Pair) Failover(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := p.Master.Kill(); err != nil {
		return 0, fmt.Errorf("kill master: %w", err)
	}
	_, err := p.Promote(ctx)
	return time.Since(start), err
}

// Promote makes the replica the master (REPLICAOF NO ONE) and points the
// endpoint at it, after the master was killed. It returns how long that took.
func (p *Pair) Promote(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if p.Replica == nil {
		return 0, fmt.Errorf("no replica to promote")
	}
	rdb := p.Replica.client()
	defer rdb.Close()
	if err := rdb.SlaveOf(ctx, "NO", "ONE").Err(); err != nil {
		return time.Since(start), fmt.Errorf("promote replica %s: %w", p.Replica.Addr(), err)
	}
	p.ep.point(p.Replica.Addr())
	p.old, p.Master, p.Replica = p.Master, p.Replica, nil
	return time.Since(start), nil
}

// Reattach starts the replaced master again as a replica of the new one
// and returns once it is in sync: what a managed offering does after a
// failover, so that the pair has a replica again.
func (p *Pair) Reattach(ctx context.Context, d time.Duration) error {
	n := p.old
	if n == nil {
		return fmt.Errorf("no replaced master to reattach")
	}
	if err := n.srv.Restart(ctx, true); err != nil {
		return fmt.Errorf("restart %s: %w", n.Addr(), err)
	}
	rdb := n.client()
	defer rdb.Close()
	host, port, _ := net.SplitHostPort(p.Master.Addr())
	if err := rdb.SlaveOf(ctx, host, port).Err(); err != nil {
		return fmt.Errorf("make %s a replica: %w", n.Addr(), err)
	}
	if err := waitReplica(ctx, n, d); err != nil {
		return err
	}
	n.mu.Lock()
	n.killed = false
	n.mu.Unlock()
	p.Replica, p.old = n, nil
	return nil
}

// Close stops both nodes and the endpoint and removes the directory. Safe
// twice.
func (p *Pair) Close() {
	if p.ep != nil {
		p.ep.close()
	}
	if p.link != nil {
		p.link.close()
	}
	for _, n := range p.all {
		n.srv.Close()
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
		p.dir = ""
	}
}
