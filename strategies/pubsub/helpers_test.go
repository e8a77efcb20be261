package pubsub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/strategies/pubsub"
	"github.com/offload/offload/strategies/strategytest"
)

// family is a web server and its workers as real processes.
type family struct {
	URL      string
	Sink     *mailsink.Sink
	redisURL string
	zmq      string
	args     []string // common flags for `work`
	workers  []*proc.Process
}

// startRedisFamily starts redis, the sink, the web side and n subscribers,
// and waits until Redis counts n subscriptions.
func startRedisFamily(t *testing.T, n int, sinkCfg mailsink.Config) *family {
	t.Helper()
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	r := itest.Redis(t)
	f := &family{Sink: itest.Sink(t, sinkCfg), redisURL: r.URL()}
	addr := itest.FreeAddr(t)
	f.URL = "http://" + addr
	itest.Start(t, "web", "serve", "--strategy", "pubsub", "--redis", r.URL(), "--addr", addr, "--body-timeout", bodyTimeout.String())
	f.args = []string{"work", "--strategy", "pubsub", "--redis", r.URL(), "--smtp", f.Sink.Addr()}
	for range n {
		f.startWorker(t)
	}
	itest.WaitHTTP(t, f.URL+"/healthz")
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	t.Cleanup(func() { rdb.Close() })
	itest.Eventually(t, 30*time.Second, fmt.Sprintf("%d subscribers", n), func() bool {
		m, err := rdb.PubSubNumSub(context.Background(), pubsub.Channel).Result()
		return err == nil && m[pubsub.Channel] == int64(n)
	})
	return f
}

// startZMQFamily starts the sink, the web side bound to a free port and n
// workers, and waits until the web side has heard from all of them.
func startZMQFamily(t *testing.T, n int, sinkCfg mailsink.Config, workerArgs ...string) *family {
	t.Helper()
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	f := &family{Sink: itest.Sink(t, sinkCfg), zmq: "tcp://" + itest.FreeAddr(t)}
	addr := itest.FreeAddr(t)
	f.URL = "http://" + addr
	itest.Start(t, "web", "serve", "--strategy", "pubsub", "--transport", "zmq", "--zmq", f.zmq, "--addr", addr, "--body-timeout", bodyTimeout.String())
	itest.WaitHTTP(t, f.URL+"/healthz")
	f.args = append([]string{"work", "--strategy", "pubsub", "--transport", "zmq", "--zmq", f.zmq, "--smtp", f.Sink.Addr()}, workerArgs...)
	for range n {
		f.startWorker(t)
	}
	f.waitWorkers(t, n)
	return f
}

func (f *family) startWorker(t *testing.T) *proc.Process {
	t.Helper()
	p := itest.Start(t, fmt.Sprintf("worker-%d", len(f.workers)+1), f.args...)
	f.workers = append(f.workers, p)
	return p
}

func (f *family) waitWorkers(t *testing.T, n int) {
	t.Helper()
	itest.Eventually(t, 30*time.Second, fmt.Sprintf("%d zmq workers", n), func() bool {
		return strategytest.Metric(f.URL, "offload_pubsub_zmq_workers") == float64(n)
	})
}

// bodyTimeout is the web side's, short so the slow-body check is quick.
const bodyTimeout = strategytest.ServeBodyTimeout

func (f *family) setup() strategytest.Setup {
	s := strategytest.Setup{URL: f.URL, Sink: f.Sink, BodyTimeout: bodyTimeout}
	if f.redisURL != "" {
		s.Slow = strategytest.PauseRedis(f.redisURL) // PUBLISH waits under CLIENT PAUSE WRITE
	}
	return s
}

// counts tells delivered-once, duplicated and missing ids apart.
func counts(s *mailsink.Sink, ids []string) (once, dup, missing int) {
	for _, id := range ids {
		d, ok := s.Delivery(id)
		switch {
		case !ok:
			missing++
		case d.Count == 1:
			once++
		default:
			dup++
		}
	}
	return
}
