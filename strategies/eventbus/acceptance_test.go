package eventbus_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/strategies/eventbus"
	"github.com/offload/offload/strategies/strategytest"
)

// web starts `offload serve --strategy eventbus` and waits for it.
func web(t *testing.T, srv *redisproc.Server, smtp string) string {
	t.Helper()
	addr := itest.FreeAddr(t)
	itest.Start(t, "web", "serve", "--strategy", "eventbus", "--redis", srv.URL(), "--smtp", smtp, "--addr", addr)
	base := "http://" + addr
	itest.WaitHTTP(t, base+"/healthz")
	return base
}

// postMany posts n jobs from 8 clients and returns the ids answered 202.
func postMany(t *testing.T, base string, n int) []string {
	t.Helper()
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				r := strategytest.Post(t, base, strategytest.MailJSON(fmt.Sprintf("event %d", i)), "")
				if r.Code != http.StatusAccepted {
					t.Errorf("post %d: %d %v", i, r.Code, r.Body)
					return
				}
				mu.Lock()
				ids = append(ids, r.Body["id"].(string))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// streamJobIDs lists the job ids in stream order.
func streamJobIDs(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), eventbus.Keys{}.Stream(0), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i], _ = m.Values["id"].(string)
	}
	return out
}

func auditIDs(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	rows, err := rdb.LRange(context.Background(), eventbus.AuditLog("audit"), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		rows[i], _, _ = strings.Cut(r, " ")
	}
	return rows
}

func duplicates(sink *mailsink.Sink, ids []string) int {
	n := 0
	for _, id := range ids {
		if d, _ := sink.Delivery(id); d.Count > 1 {
			n += d.Count - 1
		}
	}
	return n
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, itest.Binary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("offload %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// 1,000 events: the email group delivers each exactly once, the audit group
// records all of them in stream order; replaying audit from the start
// reproduces the same ids in order and sends no second mail.
func TestThousandEventsTwoHandlersAndReplay(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	srv := itest.Redis(t)
	rdb := client(t, srv)
	sink := itest.Sink(t, mailsink.Config{Delay: 2 * time.Millisecond})
	base := web(t, srv, sink.Addr())
	consumer(t, "email-1", srv, sink.Addr())
	consumer(t, "email-2", srv, sink.Addr())
	consumer(t, "audit-1", srv, sink.Addr(), "--group", "audit", "--handler", "audit")

	ids := postMany(t, base, 1000)
	strategytest.WaitDelivered(t, sink, ids, 60*time.Second)
	itest.Eventually(t, 30*time.Second, "1000 audit records", func() bool { return rdb.LLen(context.Background(), eventbus.AuditLog("audit")).Val() >= 1000 })
	if d := duplicates(sink, ids); d != 0 {
		t.Fatalf("%d duplicate mails in the fault-free case", d)
	}
	order := streamJobIDs(t, rdb)
	first := auditIDs(t, rdb)
	if !slices.Equal(first, order) {
		t.Fatalf("audit record (%d) differs from the stream's order (%d)", len(first), len(order))
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	slices.Sort(order)
	if !slices.Equal(sorted, order) {
		t.Fatal("the stream does not hold exactly the 202'd ids")
	}

	out := runCLI(t, "eventbus", "replay", "--redis", srv.URL(), "--group", "audit", "--from", "0")
	t.Log(strings.TrimSpace(out))
	itest.Eventually(t, 30*time.Second, "2000 audit records after replay", func() bool { return rdb.LLen(context.Background(), eventbus.AuditLog("audit")).Val() >= 2000 })
	all := auditIDs(t, rdb)
	if len(all) != 2000 || !slices.Equal(all[1000:], first) {
		t.Fatalf("replay recorded %d, want the same 1000 ids in the same order again", len(all)-1000)
	}
	// The email group was not replayed: its cursor, pending list and the
	// sink say so.
	groups, _ := rdb.XInfoGroups(context.Background(), eventbus.Keys{}.Stream(0)).Result()
	for _, g := range groups {
		if g.Name == "email" && (g.Lag != 0 || g.Pending != 0) {
			t.Fatalf("email group after audit replay: lag %d pending %d", g.Lag, g.Pending)
		}
	}
	if got := sink.Stats().Received; got != 1000 {
		t.Fatalf("sink received %d mails after the audit replay, want 1000", got)
	}
	stats := runCLI(t, "eventbus", "stats", "--redis", srv.URL())
	t.Log("\n" + stats)
}

// SIGKILL one email consumer mid-stream and leave it dead: the other
// claims its pending entries and every event is delivered.
func TestKilledConsumerEntriesAreClaimed(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	srv := itest.Redis(t)
	rdb := client(t, srv)
	sink := itest.Sink(t, mailsink.Config{Delay: 10 * time.Millisecond})
	base := web(t, srv, sink.Addr())
	flags := []string{"--concurrency", "4", "--claim-idle", "1s"}
	victim := consumer(t, "victim", srv, sink.Addr(), flags...)
	consumer(t, "survivor", srv, sink.Addr(), flags...)

	ids := postMany(t, base, 1000)
	itest.Eventually(t, 30*time.Second, "200 deliveries", func() bool { return sink.Stats().Received >= 200 })
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	sum, err := rdb.XPending(context.Background(), eventbus.Keys{}.Stream(0), "email").Result()
	if err != nil {
		t.Fatal(err)
	}
	held := sum.Consumers["victim"]
	t.Logf("killed the victim holding %d pending entries", held)
	strategytest.WaitDelivered(t, sink, ids, 60*time.Second)
	itest.Eventually(t, 30*time.Second, "the email group's pending list to empty", func() bool {
		s, err := rdb.XPending(context.Background(), eventbus.Keys{}.Stream(0), "email").Result()
		return err == nil && s.Count == 0
	})
	t.Logf("all 1000 delivered; %d duplicates (mails sent by the victim before its XACK)", duplicates(sink, ids))
}

// A poison event fails on every delivery: after --max-deliveries it is in
// the dead-letter stream with the reason, and the other events flow.
func TestPoisonEventIsDeadLettered(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	srv := itest.Redis(t)
	rdb := client(t, srv)
	sink := itest.Sink(t, mailsink.Config{Delay: time.Millisecond})
	base := web(t, srv, sink.Addr())
	consumer(t, "email", srv, sink.Addr(), "--max-deliveries", "3", "--claim-idle", "300ms")
	ctx := context.Background()
	stream := eventbus.Keys{}.Stream(0)
	// Anyone can XADD to a stream: this one is not a valid job.
	poison, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"id", "poison-1", "job", `{"id":"poison-1","to":"nobody"}`}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	rdb.HSet(ctx, eventbus.Keys{}.Job("poison-1"), "stream", stream, "event", poison)
	ids := postMany(t, base, 50)
	strategytest.WaitDelivered(t, sink, ids, 30*time.Second)
	itest.Eventually(t, 30*time.Second, "the poison event in the dead-letter stream", func() bool {
		return rdb.XLen(ctx, eventbus.DeadLetters("email")).Val() == 1
	})
	dead, _ := rdb.XRange(ctx, eventbus.DeadLetters("email"), "-", "+").Result()
	v := dead[0].Values
	if v["event"] != poison || v["deliveries"] != "3" || !strings.Contains(v["reason"].(string), "invalid job") {
		t.Fatalf("dead letter = %v; want event %s, 3 deliveries, the reason", v, poison)
	}
	// The dead letter is written before the XACK: wait for the ack too.
	itest.Eventually(t, 10*time.Second, "no entry pending", func() bool {
		s, err := rdb.XPending(ctx, stream, "email").Result()
		return err == nil && s.Count == 0
	})
	st := strategytest.Get(t, base, "/jobs/poison-1")
	if st.Code != http.StatusOK || st.Body["status"] != "failed" {
		t.Fatalf("GET /jobs/poison-1 = %d %v, want status failed", st.Code, st.Body)
	}
	if got := sink.Stats().Received; got != 50 {
		t.Fatalf("sink received %d, want the 50 good ones", got)
	}
}

// Redis (appendonly, fsync always) killed and restarted mid-stream: every
// event answered 202 is delivered; while it is down the web side says 503.
func TestRedisRestartKeepsEveryAcceptedEvent(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	srv := itest.Redis(t, itest.AppendOnly())
	sink := itest.Sink(t, mailsink.Config{Delay: 2 * time.Millisecond})
	base := web(t, srv, sink.Addr())
	consumer(t, "email-1", srv, sink.Addr(), "--claim-idle", "2s")
	consumer(t, "email-2", srv, sink.Addr(), "--claim-idle", "2s")

	var (
		mu       sync.Mutex
		accepted []string
		refused  atomic.Int64
		attempts atomic.Int64
		wg       sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for i := attempts.Add(1); i <= 1000; i = attempts.Add(1) {
				r := strategytest.Post(t, base, strategytest.MailJSON(fmt.Sprintf("restart %d", i)), "")
				switch r.Code {
				case http.StatusAccepted:
					mu.Lock()
					accepted = append(accepted, r.Body["id"].(string))
					mu.Unlock()
				case http.StatusServiceUnavailable:
					refused.Add(1)
				default:
					t.Errorf("post %d: %d %v", i, r.Code, r.Body)
				}
			}
		})
	}
	itest.Eventually(t, 30*time.Second, "300 attempts", func() bool { return attempts.Load() >= 300 })
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 30*time.Second, "a 503 while Redis is down", func() bool { return refused.Load() > 0 })
	if err := srv.Restart(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	strategytest.WaitDelivered(t, sink, accepted, 60*time.Second)
	t.Logf("%d accepted, %d refused with 503 while Redis was down, all accepted delivered, %d duplicates",
		len(accepted), refused.Load(), duplicates(sink, accepted))
}

// offload run starts web, N email consumers and one audit consumer;
// Ctrl-C stops all of them.
func TestRunStartsEmailAndAuditConsumers(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	srv := itest.Redis(t)
	rdb := client(t, srv)
	sink := itest.Sink(t, mailsink.Config{})
	addr := itest.FreeAddr(t)
	p := itest.Start(t, "run", "run", "--strategy", "eventbus", "--consumers", "2", "--redis", srv.URL(), "--smtp", sink.Addr(), "--addr", addr)
	base := "http://" + addr
	itest.WaitHTTP(t, base+"/healthz")
	ids := postMany(t, base, 20)
	strategytest.WaitDelivered(t, sink, ids, 30*time.Second)
	itest.Eventually(t, 30*time.Second, "20 audit records", func() bool { return rdb.LLen(context.Background(), eventbus.AuditLog("audit")).Val() == 20 })
	// At least: a consumer the supervisor restarted shows up under a new name.
	itest.Eventually(t, 30*time.Second, "2 email consumers in the group", func() bool {
		cs, err := rdb.XInfoConsumers(context.Background(), eventbus.Keys{}.Stream(0), "email").Result()
		return err == nil && len(cs) >= 2
	})
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("offload run did not stop within 30s of Ctrl-C")
	}
}

func TestServeWithoutRedisExits2(t *testing.T) {
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(itest.Binary(t), "serve", "--strategy", "eventbus", "--redis", fmt.Sprintf("redis://127.0.0.1:%d/0", port), "--addr", itest.FreeAddr(t))
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; output %q", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "unreachable") {
		t.Fatalf("want one clear line, got %q", out)
	}
}
