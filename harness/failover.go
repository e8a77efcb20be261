package harness

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/strategies/catalog"
)

// replicated is a variant's Redis with replicas, and the broker-failover
// fault on it. A cluster fails over by itself (cluster-node-timeout is
// short); the harness only kills the master and waits for the promotion.
// A replica pair has no one to decide, so the harness plays the managed
// offering's control plane: it kills the master, waits FaultFor (the
// detection time), promotes the replica with REPLICAOF NO ONE and points
// the endpoint clients use at it.
type replicated struct {
	cluster *rediscluster.Cluster
	pair    *rediscluster.Pair
	// key holds jobs (the catalog entry's FailoverKey): a cluster's
	// broker-failover kills the master that serves it.
	key    string
	killed rediscluster.Shard // cluster: the shard whose master was killed
	// rejoined ends when the killed master is back as a replica (or failed
	// to be, or close gave up on it); close waits for it.
	rejoined     chan struct{}
	cancelRejoin context.CancelFunc
}

// startReplicated starts the broker kind with every node on bind ("":
// loopback).
func startReplicated(ctx context.Context, kind, key, bind string, cpus cpuset.Set) (*replicated, error) {
	if kind == catalog.BrokerCluster && key == "" {
		return nil, fmt.Errorf("a cluster broker needs the catalog entry's FailoverKey: which master holds the jobs")
	}
	r := &replicated{key: key}
	var err error
	cfg := rediscluster.Config{AppendOnly: true, Bind: bind, CPUs: cpus}
	switch kind {
	case catalog.BrokerCluster:
		r.cluster, err = rediscluster.Start(ctx, cfg)
	case catalog.BrokerReplica:
		r.pair, err = rediscluster.StartPair(ctx, cfg)
	default:
		return nil, fmt.Errorf("unknown broker %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s broker: %w", kind, err)
	}
	return r, nil
}

func (r *replicated) url() string {
	if r.cluster != nil {
		return r.cluster.URL()
	}
	return r.pair.URL()
}

func (r *replicated) nodes() []*rediscluster.Node {
	if r == nil {
		return nil
	}
	if r.cluster != nil {
		return r.cluster.Nodes()
	}
	return []*rediscluster.Node{r.pair.Master, r.pair.Replica}
}

func (r *replicated) processes() []*proc.Process {
	var out []*proc.Process
	for _, n := range r.nodes() {
		if n != nil && n.Server().Process() != nil {
			out = append(out, n.Server().Process())
		}
	}
	return out
}

func (r *replicated) targets() []Target {
	var t []Target
	for i, n := range r.nodes() {
		if n != nil && n.PID() != 0 {
			t = append(t, Target{Role: "redis-" + strconv.Itoa(i+1), PID: n.PID()})
		}
	}
	return t
}

func (r *replicated) inject(ctx context.Context) (string, string, error) {
	if r == nil {
		return "", "", fmt.Errorf("no replicated broker in this run (a cluster or replica variant)")
	}
	if r.cluster != nil {
		s, err := r.cluster.ShardOf(ctx, r.key)
		if err != nil {
			return "", "", err
		}
		r.killed = s
		lag := lagNote(ctx, s.Master, s.Replicas[0])
		return "redis-master", fmt.Sprintf("SIGKILL the cluster master %s (pid %d) serving %s%s; its replica %s takes over (cluster-node-timeout 500ms)",
			s.Master.Addr(), s.Master.PID(), r.key, lag, s.Replicas[0].Addr()), s.Master.Kill()
	}
	m := r.pair.Master
	r.pair.Hold()
	if err := (RealClock{}).SleepUntil(ctx, time.Now().Add(replicaBehind)); err != nil {
		r.pair.Release()
		return "", "", err
	}
	lag := lagNote(ctx, m, r.pair.Replica)
	return "redis-master", fmt.Sprintf("hold the replication link %v (the replica falls behind), then SIGKILL the master %s (pid %d)%s; the harness then promotes replica %s (REPLICAOF NO ONE) and re-points the endpoint",
		replicaBehind, m.Addr(), m.PID(), lag, r.pair.Replica.Addr()), m.Kill()
}

// replicaBehind is how far behind the pair's replica is when its master
// is killed. On loopback a replica is never behind, so a failover there
// loses nothing whatever the durability; across a real network, under
// load, a replica lags by a round trip or more, and a failover loses what
// the master acknowledged in that time. The pair variants hold the
// replication link this long before the kill to show that loss, and what
// --durable wait does about it. The cluster variants do not hold: they
// show the loopback case.
const replicaBehind = 300 * time.Millisecond

// lagNote is the evidence for a failover that lost nothing: how far behind
// the replica was, as the master last heard, just before the kill.
func lagNote(ctx context.Context, m, replica *rediscluster.Node) string {
	gap, err := rediscluster.ReplicationGap(ctx, m, replica)
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" (its replica was %d bytes behind just before)", gap)
}

// repair returns once the replica serves as master. Then, in the
// background, the killed master comes back as a replica of it: until it
// does the shard has no replica, so a --durable wait shard refuses writes
// (WAIT 1 cannot succeed) and its recovery time shows it.
func (r *replicated) repair(ctx context.Context) error {
	var err error
	if r.cluster != nil {
		err = r.cluster.WaitPromoted(ctx, r.killed, 30*time.Second)
	} else {
		_, err = r.pair.Promote(ctx)
	}
	if err != nil {
		return err
	}
	r.rejoined = make(chan struct{})
	// The rejoin outlives the fault's window (a durable shard's recovery
	// waits for it) but not the run: once the run is accounted, close
	// cancels it rather than wait the half minute a cluster can take to
	// call itself healthy again.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancelRejoin = cancel
	go func() {
		defer close(r.rejoined)
		var err error
		if r.cluster != nil {
			err = r.cluster.Rejoin(rctx, r.killed.Master, 30*time.Second)
		} else {
			err = r.pair.Reattach(rctx, 30*time.Second)
		}
		if err != nil && rctx.Err() == nil {
			slog.Warn("broker-failover: the old master did not come back as a replica", "err", err)
		}
	}()
	return nil
}

func (r *replicated) close() {
	if r == nil {
		return
	}
	if r.rejoined != nil {
		r.cancelRejoin()
		<-r.rejoined
	}
	if r.cluster != nil {
		r.cluster.Close()
	}
	if r.pair != nil {
		r.pair.Close()
	}
}
