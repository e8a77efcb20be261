// Package resque is the Redis layer of the queue strategy: Resque's data
// layout (as node-resque 9 and Ruby resque write it) plus the few keys that
// make it reliable — a per-worker inflight list, a TTL'd ping, a status hash
// per job. Every multi-key change is one Lua script or one MULTI, each a
// named constant beside the function that runs it, saying which race it
// closes.
//
// Delivery is at-least-once: a job leaves its queue only by moving into a
// worker's inflight list in the same script, and leaves that list only when
// acknowledged, retried, failed or reclaimed. A job done whose ack was lost
// (the worker died between the two) runs again: a duplicate, counted by the
// job's attempts and by the sink.
package resque

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/redisconn"
	"github.com/offload/offload/internal/replwait"
)

// DefaultNamespace is Resque's.
const DefaultNamespace = "resque"

// Payload is one Resque job as it sits in a queue list.
type Payload struct {
	Class string            `json:"class"`
	Queue string            `json:"queue"`
	Args  []json.RawMessage `json:"args"`
}

// Job is a claimed job: the exact bytes taken from the queue (needed to
// remove it from the inflight list) and what they decode to.
type Job struct {
	Raw      string
	Payload  Payload
	ID       string // args[0].id, or "sha1-<hex of Raw>" for foreign jobs
	Attempts int    // deliveries so far, this one included
	Claimed  time.Time
	Shard    int // index into Client.Shards of the shard it was claimed from
}

// IDOf returns the id a raw payload is tracked under: args[0].id when it is
// a string, else a hash of the bytes (jobs enqueued by node-resque). The
// Lua scripts compute the same.
func IDOf(raw string, p Payload) string {
	if len(p.Args) > 0 {
		var a struct {
			ID any `json:"id"`
		}
		if json.Unmarshal(p.Args[0], &a) == nil {
			if s, ok := a.ID.(string); ok && s != "" {
				return s
			}
		}
	}
	sum := sha1.Sum([]byte(raw))
	return "sha1-" + hex.EncodeToString(sum[:])
}

// Client talks to one Redis (or Redis Cluster) in Resque's layout.
type Client struct {
	rdb  redis.UniversalClient
	keys Keys
	// JobTTL is how long a finished job's status hash is kept.
	jobTTL time.Duration
	// shards are the namespaces one logical queue is spread over
	// (shards.go); just this client when there is one.
	shards []*Client
	index  int // this client's place in shards
	// pausedUntil (unix ns) is when this shard may take new jobs again
	// after its master failed a command (Place).
	pausedUntil atomic.Int64
	durable     replwait.Policy // durable.go
}

// Options configures Open. Zero values take the defaults in brackets.
type Options struct {
	URL       string        // redis://host:port/db; ?addr=host:port adds cluster nodes
	Namespace string        // ["resque"]; in a cluster it must contain a {hash tag}
	JobTTL    time.Duration // status hash lifetime after a job ends [24h]
	PoolSize  int           // [go-redis default]
	// Shards spreads the queue over this many namespaces, each with its own
	// {hash tag} chosen to land on a different master of a cluster
	// (shards.go) [1: the namespace as given].
	Shards int
	// NoRetry turns off go-redis's silent retry of a command whose
	// connection broke. A worker wants that: a retried claim whose first
	// try ran in Redis leaves jobs it never hears of in its inflight list,
	// and only a surfaced error tells it to look (orphans.go).
	NoRetry bool
}

// ErrClusterNeedsHashTag: our Lua scripts touch several keys of one
// namespace, which Redis Cluster allows only within one hash slot.
var ErrClusterNeedsHashTag = errors.New("redis cluster needs a namespace with a hash tag, e.g. --namespace '{resque}'")

// Open connects and pings with the shared connection policy
// (internal/redisconn), so a bad URL or a Redis that is down is reported at
// once.
func Open(ctx context.Context, o Options) (*Client, error) {
	rdb, err := redisconn.Open(ctx, redisconn.Options{URL: o.URL, PoolSize: o.PoolSize, NoRetry: o.NoRetry})
	if err != nil {
		return nil, err
	}
	c := &Client{rdb: rdb, keys: NewKeys(o.Namespace), jobTTL: o.JobTTL}
	if c.jobTTL <= 0 {
		c.jobTTL = 24 * time.Hour
	}
	c.shards = shardsOf(c, o.Namespace, o.Shards)
	if _, ok := rdb.(*redis.ClusterClient); ok && len(c.shards) == 1 && !hasHashTag(c.keys.Prefix()) {
		_ = rdb.Close() // the configuration error is what the caller must see
		return nil, ErrClusterNeedsHashTag
	}
	return c, nil
}

func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	return i >= 0 && strings.IndexByte(prefix[i:], '}') > 1
}

// Keys returns the key builder.
func (c *Client) Keys() Keys { return c.keys }

// Redis exposes the connection for stats and tests.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Close closes the connections. Safe twice.
func (c *Client) Close() error {
	err := c.rdb.Close()
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}

// Encode builds a Resque payload for class with one argument.
func Encode(queue, class string, arg any) (string, error) {
	a, err := json.Marshal(arg)
	if err != nil {
		return "", fmt.Errorf("encode %s args: %w", class, err)
	}
	b, err := json.Marshal(Payload{Class: class, Queue: queue, Args: []json.RawMessage{a}})
	if err != nil {
		return "", fmt.Errorf("encode %s payload: %w", class, err)
	}
	return string(b), nil
}

func nowMS() string { return fmt.Sprint(time.Now().UnixMilli()) }
