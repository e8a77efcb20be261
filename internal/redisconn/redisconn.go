// Package redisconn is the one place offload opens a Redis connection. Every
// strategy, worker and inspection command gets the same URL parsing, the
// same timeouts and retry policy, and the same one-line error when Redis is
// unreachable, so that a Redis that is down looks the same everywhere: a
// quick failure the caller can turn into a 503 or an exit status, never a
// request held for the client library's default retries.
//
// It returns redis.UniversalClient so that a cluster is one more branch
// here, not a change in every caller: a URL naming any one node of a Redis
// Cluster (INFO cluster says cluster_enabled:1), or go-redis's cluster
// form redis://h1:p1?addr=h2:p2, gives a cluster client.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The policy every connection shares. Short, so that while Redis is away
// the web side answers 503 quickly instead of holding a request (and a
// pool thread); blocking commands (BLMOVE, XREADGROUP BLOCK) get their
// block time added to ReadTimeout by go-redis itself.
const (
	DialTimeout  = time.Second
	ReadTimeout  = 2 * time.Second
	WriteTimeout = 2 * time.Second
	// MaxRetries is how often go-redis silently retries a command whose
	// connection broke: once covers a server-side idle close.
	MaxRetries = 1
	// PingTimeout bounds the check Open makes before handing out a client.
	PingTimeout = 3 * time.Second
)

// ErrUnreachable is wrapped by Open's error when Redis did not answer PING.
var ErrUnreachable = errors.New("unreachable")

// ErrNoURL is returned when no URL was given.
var ErrNoURL = errors.New("no Redis URL given: use --redis redis://host:port/db (or REDIS_URL)")

// Options configures Open. Zero values take the defaults in brackets.
type Options struct {
	URL      string // redis://[user:pass@]host:port/db; ?addr=host:port adds cluster nodes
	PoolSize int    // [go-redis default]
	// NoRetry turns off the silent retry of a command whose connection
	// broke, for callers that must see every failure (a retried claim that
	// ran in Redis the first time leaves work the caller never heard of).
	NoRetry bool
}

// Open parses o.URL, connects and pings, so a bad URL or a Redis that is
// down is reported at once, as one line naming the address.
func Open(ctx context.Context, o Options) (redis.UniversalClient, error) {
	uo, err := Parse(o.URL)
	if err != nil {
		return nil, err
	}
	if o.PoolSize > 0 {
		uo.PoolSize = o.PoolSize
	}
	if o.NoRetry {
		uo.MaxRetries = -1
	}
	quietLibrary.Do(func() { redis.SetLogger(debugLogger{}) })
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if !uo.IsClusterMode {
		rdb := redis.NewClient(uo.Simple())
		if err := rdb.Ping(pctx).Err(); err != nil {
			_ = rdb.Close() // the ping's error is the one worth reporting
			if strings.Contains(err.Error(), "SELECT is not allowed in cluster mode") {
				return nil, fmt.Errorf("redis at %s is a cluster node: a cluster has only database 0", Redact(o.URL))
			}
			return nil, fmt.Errorf("redis at %s %w: %v", Redact(o.URL), ErrUnreachable, err)
		}
		enabled, err := clusterEnabled(pctx, rdb)
		if err != nil || !enabled {
			return rdb, nil // a Redis that hides INFO is taken as a single node
		}
		_ = rdb.Close()
	}
	rdb := redis.NewClusterClient(clusterOptions(uo))
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis cluster at %s %w: %v", Redact(o.URL), ErrUnreachable, err)
	}
	return rdb, nil
}

// ClusterStateReload is how often a cluster client re-reads which master
// serves which slots. go-redis re-reads on a MOVED reply but not when a
// master stops answering, and its default is a minute: after a failover a
// client would keep sending a dead master's slots to it for that long.
const ClusterStateReload = time.Second

func clusterOptions(uo *redis.UniversalOptions) *redis.ClusterOptions {
	co := uo.Cluster()
	co.ClusterStateReloadInterval = ClusterStateReload
	return co
}

// clusterEnabled asks INFO cluster, so that --redis may name any node of a
// cluster with a plain redis://host:port URL.
func clusterEnabled(ctx context.Context, rdb *redis.Client) (bool, error) {
	info, err := rdb.Info(ctx, "cluster").Result()
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.TrimSpace(line) == "cluster_enabled:1" {
			return true, nil
		}
	}
	return false, nil
}

// Parse turns a redis:// URL into client options carrying the shared
// policy; extra ?addr= nodes (go-redis's cluster URL form) make it a
// cluster client.
func Parse(raw string) (*redis.UniversalOptions, error) {
	if raw == "" {
		return nil, ErrNoURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	var uo *redis.UniversalOptions
	if u.Query().Has("addr") {
		co, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL %s: %w", Redact(raw), err)
		}
		uo = &redis.UniversalOptions{Addrs: co.Addrs, Username: co.Username, Password: co.Password,
			TLSConfig: co.TLSConfig, IsClusterMode: true}
	} else {
		ro, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis URL %s: %w", Redact(raw), err)
		}
		uo = &redis.UniversalOptions{Addrs: []string{ro.Addr}, DB: ro.DB, Username: ro.Username,
			Password: ro.Password, TLSConfig: ro.TLSConfig}
	}
	uo.DialTimeout = DialTimeout
	uo.ReadTimeout = ReadTimeout
	uo.WriteTimeout = WriteTimeout
	uo.MaxRetries = MaxRetries
	return uo, nil
}

// Redact is raw without its password, for messages and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

var quietLibrary sync.Once

// debugLogger sends go-redis's own lines (one per failed dial, many while
// Redis is away) to debug level: offload's code reports what failed, once,
// in its own words.
type debugLogger struct{}

func (debugLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// MasterAddr is the host:port of the master that serves key: the one
// server of a single Redis, the owner of key's slot in a cluster (as the
// client last heard, at most ClusterStateReload ago).
func MasterAddr(ctx context.Context, rdb redis.UniversalClient, key string) (string, error) {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			return "", fmt.Errorf("find the master of %s: %w", key, err)
		}
		return m.Options().Addr, nil
	case *redis.Client:
		return c.Options().Addr, nil
	}
	return "", fmt.Errorf("master of %s: unknown client type %T", key, rdb)
}
