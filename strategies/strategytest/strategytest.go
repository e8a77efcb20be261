// Package strategytest is the conformance suite every strategy's tests run,
// so all six are held to the same behaviour at the HTTP API and the mail
// sink: accepted jobs are delivered (exactly once when nothing fails), bad
// input of every kind (wrong media type, duplicate keys, invalid UTF-8, a
// body that trickles in, wrong routes and methods) is rejected with the
// right status and a JSON error and sends nothing, ids come from the
// Idempotency-Key, delay_ms is honoured or refused, Close is safe twice,
// a slow broker does not block the loop, and the probes answer.
package strategytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/httpapi"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
)

// Setup is a running strategy the suite drives.
type Setup struct {
	URL  string         // base URL of the web server
	Sink *mailsink.Sink // where its mail goes
	// Synchronous is true when a job is performed before the answer (200).
	Synchronous bool
	// BodyTimeout is the server's limit for receiving a POST body; 0 means
	// ServeBodyTimeout for a server from Serve, else the default.
	BodyTimeout time.Duration
	// Slow, when set, makes whatever Submit waits on (the broker, or the
	// mail server for foreground) take d from now to take a job, and
	// returns a func that ends the slowness early: PauseRedis, StallSink.
	// It lets the suite show that a slow broker never blocks the loop.
	Slow func(t testing.TB, d time.Duration) (resume func())
}

// ServeBodyTimeout is the body timeout of servers started by Serve: short,
// so the slow-body check is quick, and still ample for a loopback client.
const ServeBodyTimeout = 2 * time.Second

// Serve runs strat behind the real HTTP API in this process, under the named
// loop model, until t ends. Returns the base URL.
func Serve(t testing.TB, strat strategies.Strategy, loop string) string {
	t.Helper()
	return serve(t, strat, eventloop.Config{Name: loop, Threads: 4})
}

// ServeThreads is Serve under the threads model with n request workers.
func ServeThreads(t testing.TB, strat strategies.Strategy, n int) string {
	t.Helper()
	return serve(t, strat, eventloop.Config{Name: "threads", Threads: n})
}

func serve(t testing.TB, strat strategies.Strategy, cfg eventloop.Config) string {
	model, err := eventloop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mon *lagmonitor.Monitor
	if l, ok := model.(*eventloop.Loop); ok {
		mon = lagmonitor.New(lagmonitor.Config{Every: l.Every})
	} else {
		mon = lagmonitor.New(lagmonitor.Config{Post: model.Post})
	}
	mon.Start(context.Background())
	api, err := httpapi.New(httpapi.Config{Strategy: strat, Model: model, Monitor: mon, Registry: prometheus.NewRegistry(), BodyTimeout: ServeBodyTimeout})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	served.Store(srv.URL, strat)
	t.Cleanup(func() {
		srv.Close()
		mon.Stop()
		_ = strat.Close(context.Background())
		model.Close()
		served.Delete(srv.URL)
	})
	return srv.URL
}

// Exercise runs the suite against setups made by start (called once per subtest).
func Exercise(t *testing.T, start func(t *testing.T) Setup) {
	t.Run("DeliversEachAcceptedJobOnce", func(t *testing.T) { deliversOnce(t, start(t)) })
	t.Run("IdempotencyKeyIsTheID", func(t *testing.T) { idempotencyKey(t, start(t)) })
	t.Run("RejectsBadInputAndSendsNothing", func(t *testing.T) { rejectsBadInput(t, start(t)) })
	t.Run("TalkURLForm", func(t *testing.T) { talkForm(t, start(t)) })
	t.Run("JobStatusAnswersOrSaysWhyNot", func(t *testing.T) { jobStatus(t, start(t)) })
	t.Run("Probes", func(t *testing.T) { probes(t, start(t)) })
	t.Run("DelayedJobsRunLaterOrAreRefused", func(t *testing.T) { delayed(t, start(t)) })
	t.Run("CloseTwice", func(t *testing.T) { closeTwice(t, start(t)) })
	t.Run("SubmitNeverBlocksTheLoop", func(t *testing.T) { neverBlocks(t, start(t)) })
}

// Response is a decoded answer.
type Response struct {
	Code   int
	Header http.Header
	Body   map[string]any
}

// Post sends body to /jobs as JSON with an optional Idempotency-Key.
func Post(t testing.TB, base, body, key string) Response {
	t.Helper()
	return Send(t, base, http.MethodPost, "/jobs", "application/json", body, key)
}

// Send sends any request; ctype and key are left out when "".
func Send(t testing.TB, base, method, path, ctype, body, key string) Response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return do(t, req)
}

// Get fetches path.
func Get(t testing.TB, base, path string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Response{Code: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &r.Body); err != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s %s: bad JSON %q: %v", req.Method, req.URL, raw, err)
	}
	return r
}

// MailJSON is an io job body.
func MailJSON(subject string) string {
	return fmt.Sprintf(`{"to":"someone@example.org","subject":%q,"text":"hello"}`, subject)
}

func accept(t testing.TB, s Setup, r Response) string {
	t.Helper()
	want := http.StatusAccepted
	if s.Synchronous {
		want = http.StatusOK
	}
	if r.Code != want {
		t.Fatalf("status = %d (%v), want %d", r.Code, r.Body, want)
	}
	id, _ := r.Body["id"].(string)
	if id == "" {
		t.Fatalf("no id in %v", r.Body)
	}
	return id
}

// WaitDelivered waits until every id reached the sink.
func WaitDelivered(t testing.TB, sink *mailsink.Sink, ids []string, d time.Duration) {
	t.Helper()
	ok := wait.Until(context.Background(), d, func() bool {
		for _, id := range ids {
			if _, ok := sink.Delivery(id); !ok {
				return false
			}
		}
		return true
	})
	if !ok {
		var missing []string
		for _, id := range ids {
			if _, ok := sink.Delivery(id); !ok {
				missing = append(missing, id)
			}
		}
		t.Fatalf("%d of %d jobs not delivered within %v: %v", len(missing), len(ids), d, missing)
	}
}

func deliversOnce(t *testing.T, s Setup) {
	var ids []string
	for i := range 20 {
		ids = append(ids, accept(t, s, Post(t, s.URL, MailJSON(fmt.Sprintf("mail %d", i)), "")))
	}
	WaitDelivered(t, s.Sink, ids, 30*time.Second)
	for _, id := range ids {
		if d, _ := s.Sink.Delivery(id); d.Count != 1 {
			t.Errorf("job %s delivered %d times, want 1", id, d.Count)
		}
	}
}

func idempotencyKey(t *testing.T, s Setup) {
	id := accept(t, s, Post(t, s.URL, MailJSON("keyed"), "order-1234"))
	if id != "order-1234" {
		t.Fatalf("id = %q, want the Idempotency-Key", id)
	}
	WaitDelivered(t, s.Sink, []string{id}, 30*time.Second)
}

func talkForm(t *testing.T, s Setup) {
	r := Get(t, s.URL, "/"+url.PathEscape("evan@example.org")+"/hello/world")
	id := accept(t, s, r)
	WaitDelivered(t, s.Sink, []string{id}, 30*time.Second)
}

func jobStatus(t *testing.T, s Setup) {
	id := accept(t, s, Post(t, s.URL, MailJSON("status"), ""))
	WaitDelivered(t, s.Sink, []string{id}, 30*time.Second)
	r := Get(t, s.URL, "/jobs/"+id)
	switch r.Code {
	case http.StatusOK:
		if r.Body["id"] != id {
			t.Fatalf("status body %v does not name job %s", r.Body, id)
		}
		// A Tracker reports what happened: the sink has the mail, so the
		// status must come to say done, not stay at accepted.
		ok := wait.Until(context.Background(), 15*time.Second, func() bool {
			r = Get(t, s.URL, "/jobs/"+id)
			return r.Body["status"] == string(strategies.StatusDone)
		})
		if !ok {
			t.Fatalf("GET /jobs/%s of a delivered job says %v, never done", id, r.Body)
		}
	case http.StatusNotFound:
		if msg, _ := r.Body["error"].(string); len(msg) < 20 {
			t.Fatalf("404 without a reason: %v", r.Body)
		}
	default:
		t.Fatalf("GET /jobs/%s: status %d (%v)", id, r.Code, r.Body)
	}
	if r := Get(t, s.URL, "/jobs/"+job.NewID()); r.Code != http.StatusNotFound {
		t.Fatalf("unknown job: status %d, want 404", r.Code)
	}
}

func probes(t *testing.T, s Setup) {
	if r := Get(t, s.URL, "/healthz"); r.Code != 200 {
		t.Fatalf("/healthz: %d", r.Code)
	}
	if r := Get(t, s.URL, "/debug/lag"); r.Code != 200 || r.Body["p99_ms"] == nil {
		t.Fatalf("/debug/lag: %d %v", r.Code, r.Body)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = io.Copy(&b, resp.Body)
	for _, m := range []string{"offload_loop_lag_seconds", "offload_http_requests_total"} {
		if !strings.Contains(b.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// PostN submits n io jobs, each expected to be accepted (202), and returns
// their ids.
func PostN(t testing.TB, base string, n int, prefix string) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		r := Post(t, base, MailJSON(fmt.Sprintf("%s %d", prefix, i)), "")
		if r.Code != http.StatusAccepted {
			t.Fatalf("job %d: status %d %v", i, r.Code, r.Body)
		}
		ids = append(ids, r.Body["id"].(string))
	}
	return ids
}

// Metric reads the first sample of a metric (unlabelled, or its first
// labelled series) from base's /metrics; -1 when absent or unreachable.
func Metric(base, name string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			return v
		}
	}
	return -1
}
