package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/httpapi"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/strategytest"
)

// recorder is a strategy that keeps what it was given, so a test can tell
// that a refused request never reached Submit.
type recorder struct {
	mu        sync.Mutex
	submitted []job.Job
	at        []time.Time
}

func (r *recorder) Name() string                { return "recorder" }
func (r *recorder) Close(context.Context) error { return nil }
func (r *recorder) count() int                  { r.mu.Lock(); defer r.mu.Unlock(); return len(r.submitted) }
func (r *recorder) keep(j job.Job, at time.Time) {
	r.mu.Lock()
	r.submitted = append(r.submitted, j)
	r.at = append(r.at, at)
	r.mu.Unlock()
}
func (r *recorder) ok(reply func(strategies.Outcome)) {
	reply(strategies.Outcome{Status: strategies.StatusAccepted})
}

func (r *recorder) Submit(_ strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	r.keep(j, time.Time{})
	r.ok(reply)
}

// scheduling adds the Scheduler capability.
type scheduling struct{ *recorder }

func (s scheduling) SubmitAt(_ strategies.Runtime, j job.Job, at time.Time, reply func(strategies.Outcome)) {
	s.keep(j, at)
	s.ok(reply)
}

// serve runs strat behind the API on a real listener with the server
// settings `offload serve` uses, and a short body timeout.
func serve(t *testing.T, strat strategies.Strategy, loop string, bodyTimeout time.Duration) string {
	t.Helper()
	model, err := eventloop.New(eventloop.Config{Name: loop, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	mon := lagmonitor.New(lagmonitor.Config{Post: model.Post})
	api, err := httpapi.New(httpapi.Config{Strategy: strat, Model: model, Monitor: mon, Registry: prometheus.NewRegistry(), BodyTimeout: bodyTimeout})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewHTTPServer(ln.Addr().String(), api)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		model.Close()
	})
	return "http://" + ln.Addr().String()
}

type answer struct {
	code  int
	allow string
	body  map[string]any
}

func send(t *testing.T, method, url, ctype, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, allow: resp.Header.Get("Allow")}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json (body %q)", method, url, ct, raw)
	}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, url, raw, err)
	}
	return a
}

const good = `{"to":"a@example.org","subject":"hi"}`

func TestEdge(t *testing.T) {
	tests := []struct {
		name, method, path, ctype, body string
		code                            int
		allow                           string // want this Allow header
		mention                         string // the error must contain this
	}{
		{"json", "POST", "/jobs", "application/json", good, 202, "", ""},
		{"json with charset", "POST", "/jobs", "Application/JSON; charset=UTF-8", good, 202, "", ""},
		{"no content type", "POST", "/jobs", "", good, 415, "", "Content-Type"},
		{"text/plain", "POST", "/jobs", "text/plain", good, 415, "", "text/plain"},
		{"form", "POST", "/jobs", "application/x-www-form-urlencoded", good, 415, "", "application/json"},
		{"json lookalike", "POST", "/jobs", "application/json-patch+json", good, 415, "", "application/json"},
		{"other charset", "POST", "/jobs", "application/json; charset=latin1", good, 415, "", "latin1"},
		{"duplicate key", "POST", "/jobs", "application/json", `{"to":"a@example.org","to":"b@example.org"}`, 400, "", "to"},
		{"invalid UTF-8", "POST", "/jobs", "application/json", "{\"to\":\"a@example.org\",\"subject\":\"\xff\"}", 400, "", "subject"},
		{"delay unsupported", "POST", "/jobs", "application/json", `{"to":"a@example.org","delay_ms":1000}`, 400, "", "delay_ms"},
		{"no route", "GET", "/no/such", "", "", 404, "", "/no/such"},
		{"wrong method", "DELETE", "/jobs", "", "", 405, "POST", "DELETE"},
		{"wrong method on a probe", "POST", "/healthz", "application/json", "{}", 405, "GET, HEAD", "POST"},
		{"talk form not UTF-8", "GET", "/a@example.org/%ff/x", "", "", 400, "", "subject"},
		{"untracked status", "GET", "/jobs/abc", "", "", 404, "", "recorder"},
	}
	for _, loop := range []string{"node", "go", "threads"} {
		t.Run(loop, func(t *testing.T) {
			rec := &recorder{}
			base := serve(t, rec, loop, time.Second)
			want := 0
			for _, tt := range tests {
				a := send(t, tt.method, base+tt.path, tt.ctype, tt.body)
				msg, _ := a.body["error"].(string)
				if a.code != tt.code || !strings.Contains(msg, tt.mention) || a.allow != tt.allow {
					t.Errorf("%s: got %d %v Allow %q, want %d mentioning %q, Allow %q", tt.name, a.code, a.body, a.allow, tt.code, tt.mention, tt.allow)
				}
				if tt.code < 300 {
					want++
				}
			}
			if got := rec.count(); got != want {
				t.Fatalf("strategy got %d jobs, want only the %d good ones", got, want)
			}
		})
	}
}

func TestDelayGoesToTheScheduler(t *testing.T) {
	s := scheduling{&recorder{}}
	base := serve(t, s, "node", time.Second)
	t0 := time.Now()
	if a := send(t, "POST", base+"/jobs", "application/json", `{"to":"a@example.org","delay_ms":60000}`); a.code != 202 {
		t.Fatalf("delayed job: %d %v", a.code, a.body)
	}
	if a := send(t, "POST", base+"/jobs", "application/json", `{"to":"a@example.org","delay_ms":0}`); a.code != 202 {
		t.Fatalf("undelayed job: %d %v", a.code, a.body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) != 2 || s.at[0].Before(t0.Add(time.Minute)) || !s.at[1].IsZero() {
		t.Fatalf("run times %v: want the first a minute after %v through SubmitAt, the second through Submit", s.at, t0)
	}
}

// A client that trickles its body gets 408 (or a closed connection) once
// the body timeout passes, under every model, and never a 5xx.
func TestSlowBodyIs408(t *testing.T) {
	for _, loop := range []string{"node", "go", "threads"} {
		t.Run(loop, func(t *testing.T) {
			rec := &recorder{}
			base := serve(t, rec, loop, 300*time.Millisecond)
			code, err := strategytest.Trickle(t, strings.TrimPrefix(base, "http://"), good, 100*time.Millisecond)
			if err == nil && code != http.StatusRequestTimeout {
				t.Fatalf("trickled body: status %d, want 408", code)
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("no answer at all: %v", err)
			}
			if err != nil {
				t.Logf("connection closed without an answer: %v", err)
			}
			if rec.count() != 0 {
				t.Fatal("a trickled job reached the strategy")
			}
		})
	}
}
