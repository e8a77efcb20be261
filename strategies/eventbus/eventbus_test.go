package eventbus_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/eventbus"
	"github.com/offload/offload/strategies/strategytest"
)

// consumer starts `offload work --strategy eventbus` as a real process.
func consumer(t *testing.T, name string, srv *redisproc.Server, smtp string, extra ...string) *proc.Process {
	t.Helper()
	args := append([]string{"work", "--strategy", "eventbus", "--redis", srv.URL(), "--smtp", smtp, "--consumer", name}, extra...)
	return itest.Start(t, name, args...)
}

func client(t *testing.T, srv *redisproc.Server) redis.UniversalClient {
	t.Helper()
	rdb, err := eventbus.Connect(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestConformance(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	for _, loop := range []string{"node", "go"} {
		t.Run(loop, func(t *testing.T) {
			strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
				srv := itest.Redis(t)
				sink := itest.Sink(t, mailsink.Config{})
				s, err := eventbus.New(strategies.Config{RedisURL: srv.URL()})
				if err != nil {
					t.Fatal(err)
				}
				consumer(t, "email", srv, sink.Addr())
				return strategytest.Setup{URL: strategytest.Serve(t, s, loop), Sink: sink, Slow: strategytest.PauseRedis(srv.URL())}
			})
		})
	}
}

// While Redis is down the web side must say 503, never 202 for an event it
// did not store.
func TestAnswers503WhileRedisIsDown(t *testing.T) {
	srv := itest.Redis(t)
	s, err := eventbus.New(strategies.Config{RedisURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	base := strategytest.Serve(t, s, "node")
	if r := strategytest.Post(t, base, strategytest.MailJSON("up"), ""); r.Code != http.StatusAccepted {
		t.Fatalf("with Redis up: %d %v", r.Code, r.Body)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	r := strategytest.Post(t, base, strategytest.MailJSON("down"), "")
	if r.Code != http.StatusServiceUnavailable {
		t.Fatalf("with Redis down: %d %v, want 503", r.Code, r.Body)
	}
}

// Trimming never removes an entry a group has not acknowledged, and does
// remove the rest once they are.
func TestTrimStopsAtUnacknowledged(t *testing.T) {
	srv := itest.Redis(t)
	rdb := client(t, srv)
	ctx := context.Background()
	keys := eventbus.Keys{Partitions: 1}
	stream := keys.Stream(0)
	if err := rdb.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		j := job.Job{ID: fmt.Sprintf("j%03d", i), To: "a@example.org", Kind: job.KindIO}
		if _, err := eventbus.Publish(ctx, rdb, keys, j); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver 50, acknowledge the first 30: entries 31..50 are pending,
	// 51..100 never delivered.
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 50}).Result()
	if err != nil {
		t.Fatal(err)
	}
	msgs := res[0].Messages
	for _, m := range msgs[:30] {
		rdb.XAck(ctx, stream, "g", m.ID)
	}
	if _, err := eventbus.Trim(ctx, rdb, stream, 0, 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, stream).Val(); n != 70 {
		t.Fatalf("after trim with 20 pending: length %d, want 70 (stop at the oldest pending)", n)
	}
	for _, m := range msgs[30:] {
		rdb.XAck(ctx, stream, "g", m.ID)
	}
	if _, err := eventbus.Trim(ctx, rdb, stream, 0, 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The group's cursor is at entry 50: nothing beyond it may go.
	if n := rdb.XLen(ctx, stream).Val(); n != 51 {
		t.Fatalf("after all delivered entries acked: length %d, want 51 (cursor bound)", n)
	}
	if _, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 100}).Result(); err != nil {
		t.Fatal(err)
	}
	pend, _ := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: "g", Start: "-", End: "+", Count: 100}).Result()
	for _, p := range pend {
		rdb.XAck(ctx, stream, "g", p.ID)
	}
	if _, err := eventbus.Trim(ctx, rdb, stream, 0, 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, stream).Val(); n != 10 {
		t.Fatalf("all acknowledged: length %d, want 10 (--retain-count)", n)
	}
}

// A group created after the events were written starts at 0 and catches
// up on all of them; replay from an id re-delivers from exactly there.
func TestLateGroupCatchesUpAndReplayFromID(t *testing.T) {
	srv := itest.Redis(t)
	rdb := client(t, srv)
	ctx := context.Background()
	keys := eventbus.Keys{Partitions: 2}
	var ids []string
	for i := range 40 {
		j := job.Job{ID: fmt.Sprintf("late-%02d", i), To: "a@example.org", Kind: job.KindIO}
		if _, err := eventbus.Publish(ctx, rdb, keys, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	seen := make(chan string, 200)
	h := eventbus.HandlerFunc(func(_ context.Context, ev eventbus.Event) error { seen <- ev.ID; return nil })
	c, err := eventbus.NewConsumer(rdb, eventbus.ConsumerConfig{Group: "late", Partitions: 2, Block: 100 * time.Millisecond}, h, false)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	t.Cleanup(func() { cancel(); <-done })
	itest.Eventually(t, 10*time.Second, "the late group to see all 40 events", func() bool { return len(seen) == 40 })
	for range 40 {
		<-seen
	}
	// Replay partition 0 from its 3rd entry: exactly the entries from there.
	p0, _ := rdb.XRange(ctx, keys.Stream(0), "-", "+").Result()
	if err := eventbus.Replay(ctx, rdb, keys, "late", p0[2].ID); err != nil {
		t.Fatal(err)
	}
	p1, _ := rdb.XRange(ctx, keys.Stream(1), "-", "+").Result()
	want := 0
	for _, m := range append(p0, p1...) {
		if !idLess(m.ID, p0[2].ID) {
			want++
		}
	}
	itest.Eventually(t, 10*time.Second, fmt.Sprintf("%d replayed events", want), func() bool { return len(seen) >= want })
	// The handler reports an event before the consumer acks it.
	itest.Eventually(t, 10*time.Second, fmt.Sprintf("at least %d acks", 40+want), func() bool { return c.Counts().Acked >= int64(40+want) })
}

// idLess orders entry ids numerically ("ms-seq").
func idLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if x != y {
		return x < y
	}
	xs, _ := strconv.ParseUint(as, 10, 64)
	ys, _ := strconv.ParseUint(bs, 10, 64)
	return xs < ys
}
