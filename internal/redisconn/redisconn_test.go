package redisconn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/rediscluster"
	"github.com/offload/offload/internal/redisconn"
	"github.com/offload/offload/internal/redisproc"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     string
		addrs   []string
		db      int
		cluster bool
		wantErr string
	}{
		{name: "single node", url: "redis://127.0.0.1:6390/3", addrs: []string{"127.0.0.1:6390"}, db: 3},
		{name: "cluster form", url: "redis://h1:7000?addr=h2:7001&addr=h3:7002", addrs: []string{"h1:7000", "h2:7001", "h3:7002"}, cluster: true},
		{name: "empty", url: "", wantErr: "no Redis URL given"},
		{name: "wrong scheme", url: "http://x", wantErr: "redis URL http://x"},
		{name: "password is redacted", url: "ftp://u:secret@h:1/0", wantErr: "u:xxxxx@h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uo, err := redisconn.Parse(tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("err shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(uo.Addrs) != fmt.Sprint(tc.addrs) || uo.DB != tc.db || uo.IsClusterMode != tc.cluster {
				t.Fatalf("got addrs %v db %d cluster %v", uo.Addrs, uo.DB, uo.IsClusterMode)
			}
			if uo.DialTimeout != redisconn.DialTimeout || uo.ReadTimeout != redisconn.ReadTimeout ||
				uo.WriteTimeout != redisconn.WriteTimeout || uo.MaxRetries != redisconn.MaxRetries {
				t.Fatalf("policy not applied: %+v", uo)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	srv := itest.Redis(t)
	rdb, err := redisconn.Open(context.Background(), redisconn.Options{URL: srv.URL(), NoRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.Client); !ok {
		t.Fatalf("a single-node URL gave %T", rdb)
	}
	if err := rdb.Set(context.Background(), "redisconn:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenUnreachableIsOneLine(t *testing.T) {
	port, err := redisproc.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("redis://user:secret@127.0.0.1:%d/0", port)
	_, err = redisconn.Open(context.Background(), redisconn.Options{URL: url})
	if !errors.Is(err, redisconn.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "secret") || !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Fatalf("message %q: want one line naming the address without the password", msg)
	}
}

// Any one node of a cluster, named with a plain URL, gives a cluster
// client, as does go-redis's cluster form; and after a failover the client
// finds the promoted replica within seconds (its state reload), not after
// go-redis's default minute.
func TestOpenDetectsClusterAndFollowsFailover(t *testing.T) {
	cl := itest.Cluster(t, rediscluster.Config{})
	ctx := context.Background()
	for _, url := range []string{"redis://" + cl.Nodes()[4].Addr() + "/0", cl.URL()} {
		rdb, err := redisconn.Open(ctx, redisconn.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rdb.(*redis.ClusterClient); !ok {
			t.Fatalf("%s gave %T, want a cluster client", url, rdb)
		}
		rdb.Close()
	}
	if _, err := redisconn.Open(ctx, redisconn.Options{URL: "redis://" + cl.Nodes()[0].Addr() + "/3"}); err == nil || !strings.Contains(err.Error(), "only database 0") {
		t.Fatalf("db 3 on a cluster node: %v", err)
	}

	rdb, err := redisconn.Open(ctx, redisconn.Options{URL: "redis://" + cl.Nodes()[0].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for i := range 50 {
		if err := rdb.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := cl.Failover(ctx, "k7", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	itest.Eventually(t, 10*time.Second, "writes to the failed-over slot to succeed", func() bool {
		return rdb.Set(ctx, "k7", "after", 0).Err() == nil
	})
	t.Logf("client back %v after the promotion", time.Since(start).Round(time.Millisecond))
}
