// Package replwait makes a Redis write survive a failover: it answers
// only once a replica holds the write. Replication is asynchronous — a
// master answers a write before any replica has it — so a failover right
// after a 202 can lose the job even with appendfsync always (that survives
// a restart of the same node, not its replacement). WAIT numreplicas
// timeout blocks until that many replicas acknowledged every write made on
// the same connection, and that is what --durable wait buys: a 202 only
// once a replica holds the job. The queue and the event bus both use it,
// so the mechanism and its pitfalls live here once.
//
// WAIT must follow the write on the same connection, and not inside MULTI
// (there it returns at once). So Write sends the caller's commands and
// WAIT in one pipeline on one connection. In a cluster that pipeline goes
// to the client of the master that owns the key's slot: a cluster client
// would send the keyless WAIT to any master, where it would wait for
// nothing.
package replwait

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is returned when WAIT timed out before enough replicas
// acknowledged the write: the write is on the master (for now) but must
// not be reported as stored.
var ErrNotReplicated = errors.New("not confirmed by a replica in time")

// DefaultTimeout is how long a --durable wait write waits for a replica
// before the caller answers 503.
const DefaultTimeout = time.Second

// Policy is what Write waits for before it reports success.
type Policy struct {
	Replicas int           // replicas that must hold the write (0: none, the default)
	Timeout  time.Duration // WAIT's timeout [DefaultTimeout]
}

// On reports whether the policy waits for any replica.
func (p Policy) On() bool { return p.Replicas > 0 }

// FromFlag is the policy of the common --durable flag: "none" (or "")
// waits for nothing, "wait" for one replica for DefaultTimeout.
func FromFlag(mode string) (Policy, error) {
	switch mode {
	case "", "none":
		return Policy{}, nil
	case "wait":
		return Policy{Replicas: 1, Timeout: DefaultTimeout}, nil
	}
	return Policy{}, fmt.Errorf("--durable %q: use none or wait", mode)
}

// Write queues the commands write adds to a pipeline on the connection
// that serves key (its slot's master in a cluster), follows them with WAIT
// and fails unless p.Replicas replicas acknowledged. The commands' own
// results are in the Cmders write created; an error of any of them is
// Write's error. With a zero policy it is a plain pipeline on rdb.
func Write(ctx context.Context, rdb redis.UniversalClient, key string, p Policy, write func(redis.Pipeliner)) error {
	if !p.On() {
		_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error { write(pipe); return nil })
		return err
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	var node redis.Cmdable = rdb
	cc, isCluster := rdb.(*redis.ClusterClient)
	if isCluster {
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("find the master of %s: %w", key, err)
		}
		node = m
	}
	pipe := node.Pipeline()
	write(pipe)
	w := pipe.Do(ctx, "WAIT", p.Replicas, p.Timeout.Milliseconds())
	if _, err := pipe.Exec(ctx); err != nil {
		if isCluster && redis.HasErrorPrefix(err, "MOVED") {
			// The slot moved (a failover) and this node said so: the
			// direct pipeline does not follow redirects, so let the next
			// write find the new master at once.
			cc.ReloadState(ctx)
		}
		return err
	}
	n, err := w.Int()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if n < p.Replicas {
		return fmt.Errorf("%d of %d replicas after %v: %w", n, p.Replicas, p.Timeout, ErrNotReplicated)
	}
	return nil
}
