package strategytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
)

// served maps a URL from Serve to its strategy, for the checks that need
// the strategy itself (Close). A strategy whose web side is a child
// process is not in it.
var served sync.Map

// delayed posts a job with delay_ms: a strategy either refuses it with 400
// naming delay_ms and sends nothing, or delivers it, and not before the
// delay. Accepting it and delivering at once is what neither may do.
func delayed(t *testing.T, s Setup) {
	const delay = 1500 * time.Millisecond
	before := s.Sink.Stats().Received
	t0 := time.Now()
	r := Post(t, s.URL, fmt.Sprintf(`{"to":"someone@example.org","subject":"later","delay_ms":%d}`, delay.Milliseconds()), "")
	switch r.Code {
	case http.StatusBadRequest:
		if r.Body["field"] != "delay_ms" {
			t.Fatalf("400 for delay_ms that does not name it: %v", r.Body)
		}
		mailedOnlyTheGoodOne(t, s, before)
	case http.StatusAccepted:
		id, _ := r.Body["id"].(string)
		WaitDelivered(t, s.Sink, []string{id}, 30*time.Second)
		d, _ := s.Sink.Delivery(id)
		if early := d.First.Sub(t0); early < delay {
			t.Fatalf("a job delayed %v was delivered after %v: delay_ms was ignored", delay, early)
		}
	default:
		t.Fatalf("delay_ms: status %d (%v), want 202 or 400", r.Code, r.Body)
	}
}

// closeTwice closes the strategy twice while its server still runs: both
// calls succeed, and a request afterwards gets an answer, not a crash.
func closeTwice(t *testing.T, s Setup) {
	v, ok := served.Load(s.URL)
	if !ok {
		t.Log("the web side is a child process: its Close runs once, when it exits")
		return
	}
	CloseTwice(t, v.(strategies.Strategy))
	if r := Post(t, s.URL, MailJSON("after close"), ""); r.Code == 0 {
		t.Fatal("no answer after Close")
	}
	if r := Get(t, s.URL, "/healthz"); r.Code != http.StatusOK {
		t.Fatalf("/healthz after Close: %d %v", r.Code, r.Body)
	}
}

// CloseTwice closes strat twice, each within 10 s: both must succeed.
func CloseTwice(t testing.TB, strat strategies.Strategy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 2 {
		if err := strat.Close(ctx); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}

// neverBlocks shows that Submit hands blocking work off: with the broker
// slowed, a burst of submits is in flight and /healthz still answers
// before any of them. Under threads a request holds its worker while it
// waits, by design, so there is nothing to show.
func neverBlocks(t *testing.T, s Setup) {
	if s.Slow == nil {
		t.Log("this setup has no way to slow what Submit waits on: not shown here")
		return
	}
	if loop := Get(t, s.URL, "/healthz").Body["loop"]; loop == "threads" {
		t.Log("under threads a request holds its worker while the broker is slow: nothing to show")
		return
	}
	for _, d := range []time.Duration{4 * time.Second, 10 * time.Second} {
		if burstProbe(t, s, d) {
			return
		}
	}
	t.Fatal("no submit was ever held by the slowed broker: Slow does not slow what Submit waits on")
}

// burstProbe slows the broker for d, sends a burst of submits and, once
// all are written, one /healthz. A Submit that blocked the loop would hold
// the probe behind it, so it could not answer before the first submit
// did; a Submit that hands its wait off leaves the loop free, and the
// probe answers while every submit still waits. No timing bound: only the
// order of answers. It returns false when no submit waited for the broker
// (the machine took longer than d to send the burst), and the run shows
// nothing.
func burstProbe(t *testing.T, s Setup, d time.Duration) bool {
	const n = 16
	resume := s.Slow(t, d)
	var wrote sync.WaitGroup
	wrote.Add(n)
	answered := make(chan time.Time, n)
	for i := range n {
		go func() {
			var once sync.Once
			submitTraced(s.URL, MailJSON(fmt.Sprintf("burst %d", i)), func() { once.Do(wrote.Done) })
			once.Do(wrote.Done)
			answered <- time.Now()
		}()
	}
	wrote.Wait()
	sent := time.Now()
	r := Get(t, s.URL, "/healthz")
	probed := time.Now()
	resume()
	first := <-answered
	for range n - 1 {
		if a := <-answered; a.Before(first) {
			first = a
		}
	}
	if first.Before(sent) {
		t.Logf("with the broker slowed for %v a submit was answered before the probe was sent", d)
		return false
	}
	if r.Code != http.StatusOK {
		t.Fatalf("/healthz during the burst: %d %v", r.Code, r.Body)
	}
	if probed.After(first) {
		t.Fatalf("/healthz took %v and answered after the first of %d submits (%v): Submit blocked the loop while the broker was slow",
			probed.Sub(sent), n, first.Sub(sent))
	}
	t.Logf("/healthz answered in %v; the first of %d submits %v after it was sent", probed.Sub(sent), n, first.Sub(sent))
	return true
}

// submitTraced posts body and calls wrote once the request is on the wire.
func submitTraced(base, body string, wrote func()) {
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote() }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/jobs", strings.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", jsonType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// PauseRedis is a Setup.Slow for strategies whose Submit writes to the
// Redis at url: CLIENT PAUSE WRITE holds every write for d, and CLIENT
// UNPAUSE resumes.
func PauseRedis(url string) func(testing.TB, time.Duration) func() {
	return func(t testing.TB, d time.Duration) func() {
		t.Helper()
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		ctx := context.Background()
		if err := rdb.Do(ctx, "CLIENT", "PAUSE", d.Milliseconds(), "WRITE").Err(); err != nil {
			_ = rdb.Close()
			t.Fatalf("CLIENT PAUSE: %v", err)
		}
		return func() {
			if err := rdb.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
				t.Errorf("CLIENT UNPAUSE: %v", err)
			}
			_ = rdb.Close()
		}
	}
}

// StallSink is a Setup.Slow for strategies whose Submit waits for the mail
// server (foreground): the sink holds every message for d.
func StallSink(sink *mailsink.Sink) func(testing.TB, time.Duration) func() {
	return func(_ testing.TB, d time.Duration) func() {
		sink.Stall(d)
		return func() { sink.Stall(0) }
	}
}
