package harness

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
)

// post sends r through s and waits for its outcome.
func postWait(t *testing.T, ctx context.Context, s *Sender, r Request) Outcome {
	t.Helper()
	var c Collector
	s.Post(ctx, r, &c)
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !c.Wait(wctx) {
		t.Fatal("no outcome within 10s")
	}
	outs := c.Outcomes()
	if len(outs) != 1 {
		t.Fatalf("%d outcomes", len(outs))
	}
	return outs[0]
}

// The server must not be able to tell the lean client from net/http:
// the bytes on the wire are the same.
func TestSenderWritesWhatNetHTTPWrites(t *testing.T) {
	capture := func(send func(base string)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan string, 1)
		go func() {
			for { // spare connections carry no request
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					var raw strings.Builder
					req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(c, &raw)))
					if err != nil {
						return
					}
					_, _ = io.ReadAll(req.Body)
					got <- strings.ReplaceAll(raw.String(), ln.Addr().String(), "ADDR")
					_, _ = io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
				}()
			}
		}()
		send("http://" + ln.Addr().String())
		return <-got
	}
	for _, r := range []Request{
		{Seq: 1, ID: "r001-000001", Kind: "io"},
		{Seq: 2, ID: "r001-000002", Kind: "cpu", CostMS: 20},
		{Seq: 3, ID: `odd "id"`, Kind: "io"},
	} {
		lean := capture(func(base string) {
			s := NewSender(base, 5*time.Second)
			defer s.Close()
			if o := postWait(t, context.Background(), s, r); o.Status != http.StatusAccepted {
				t.Errorf("lean: %+v", o)
			}
		})
		std := capture(func(base string) {
			s := NewSender(base, 5*time.Second)
			defer s.Close()
			if o := s.netJob(context.Background(), r); o.Status != http.StatusAccepted {
				t.Errorf("net/http: %+v", o)
			}
		})
		if lean != std {
			t.Errorf("request %s:\nlean client sent\n%s\nnet/http sent\n%s", r.ID, lean, std)
		}
	}
}

// Each answer a server can give ends up in the outcome the way net/http
// reported it, and the connection is reused when HTTP allows.
func TestSenderAnswers(t *testing.T) {
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), r.Header.Get("Idempotency-Key")) || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		switch id := r.Header.Get("Idempotency-Key"); {
		case strings.HasPrefix(id, "accept"):
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"status":"accepted"}`)
		case strings.HasPrefix(id, "bad"):
			http.Error(w, strings.Repeat("no such thing\n", 1000), http.StatusBadRequest)
		case strings.HasPrefix(id, "chunked"):
			w.WriteHeader(http.StatusAccepted)
			for range 3 {
				_, _ = io.WriteString(w, strings.Repeat("x", 5000))
				w.(http.Flusher).Flush()
			}
		case strings.HasPrefix(id, "close"):
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasPrefix(id, "nocontent"):
			w.WriteHeader(http.StatusNoContent)
		case strings.HasPrefix(id, "continue"):
			w.WriteHeader(http.StatusContinue) // an informational answer first
			w.WriteHeader(http.StatusCreated)
		case strings.HasPrefix(id, "panic"):
			panic(http.ErrAbortHandler) // the server drops the connection
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := NewSender(srv.URL, 5*time.Second)
	defer s.Close()

	for _, tc := range []struct {
		id     string
		status int
		err    bool
	}{
		{"accept-1", http.StatusAccepted, false},
		{"bad-1", http.StatusBadRequest, false},
		{"chunked-1", http.StatusAccepted, false},
		{"nocontent-1", http.StatusNoContent, false},
		{"continue-1", http.StatusCreated, false},
		{"accept-2", http.StatusAccepted, false},
		{"close-1", http.StatusServiceUnavailable, false},
		{"accept-3", http.StatusAccepted, false},
		{"panic-1", 0, true},
		{"accept-4", http.StatusAccepted, false},
	} {
		o := postWait(t, context.Background(), s, Request{ID: tc.id, Kind: "io", Due: time.Now()})
		if o.Status != tc.status || (o.Err != "") != tc.err || o.Timeout || o.Canceled {
			t.Errorf("%s: status %d err %q timeout %v canceled %v; want status %d, error %v", tc.id, o.Status, o.Err, o.Timeout, o.Canceled, tc.status, tc.err)
		}
		if o.Sent.IsZero() || o.Wrote.Before(o.Sent) || o.Done.Before(o.Wrote) {
			t.Errorf("%s: times out of order: sent %v wrote %v done %v", tc.id, o.Sent, o.Wrote, o.Done)
		}
	}
	// Kept alive, connections are reused: once the client holds its spares,
	// requests one after another need no new one.
	before := conns.Load()
	for i := range 50 {
		if o := postWait(t, context.Background(), s, Request{ID: jobID("accept-", i), Kind: "io"}); o.Status != http.StatusAccepted {
			t.Fatalf("%+v", o)
		}
	}
	if n := conns.Load() - before; n > maxSpareDials {
		t.Errorf("%d new connections for 50 requests one after another", n)
	}
}

// A kept-alive connection the server closes while idle is not used again:
// the next request goes out on a fresh one and is answered.
func TestSenderSurvivesServerClosingIdleConnections(t *testing.T) {
	srv := httptest.NewServer(BareHandler())
	defer srv.Close()
	s := NewSender(srv.URL, 5*time.Second)
	defer s.Close()
	for i := range 5 {
		o := postWait(t, context.Background(), s, Request{ID: "idle", Kind: "io"})
		if o.Status != http.StatusAccepted {
			t.Fatalf("request %d: %+v", i, o)
		}
		srv.CloseClientConnections()
	}
}

// A server slower than the request timeout yields a timeout, and a run
// stopped mid-request yields a cancel, not a server failure.
func TestSenderTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-release
	}))
	defer srv.Close()
	defer once.Do(func() { close(release) })

	s := NewSender(srv.URL, 200*time.Millisecond)
	defer s.Close()
	o := postWait(t, context.Background(), s, Request{ID: "slow", Kind: "io"})
	if !o.Timeout || o.Canceled || o.Status != 0 || o.Wrote.IsZero() {
		t.Errorf("slow server: %+v", o)
	}
	if d := o.Done.Sub(o.Sent); d < 200*time.Millisecond {
		t.Errorf("timed out after %v, before the 200ms timeout", d)
	}

	s2 := NewSender(srv.URL, time.Minute)
	defer s2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var c Collector
	s2.Post(ctx, Request{ID: "stopped", Kind: "io"}, &c)
	time.AfterFunc(50*time.Millisecond, cancel)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if !c.Wait(wctx) {
		t.Fatal("a canceled request did not end")
	}
	if o := c.Outcomes()[0]; !o.Canceled || o.Timeout || o.Status != 0 {
		t.Errorf("canceled: %+v", o)
	}
	if o := postWait(t, ctx, s2, Request{ID: "after", Kind: "io"}); !o.Canceled || !o.Wrote.IsZero() {
		t.Errorf("posted after the end: %+v", o)
	}
}

// Nothing listens: the outcome is a transport error, not a hang.
func TestSenderRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	s := NewSender(base, 5*time.Second)
	defer s.Close()
	o := postWait(t, context.Background(), s, Request{ID: "refused", Kind: "io"})
	if o.Status != 0 || !strings.Contains(o.Err, "refused") || o.Timeout || !o.Wrote.IsZero() {
		t.Errorf("refused: %+v", o)
	}
}

// Open loop: posting never waits for an answer. Requests posted while
// every connection is busy go out on new ones, all written before any is
// answered.
func TestSenderPostDoesNotWaitForAnswers(t *testing.T) {
	const n = 20
	var arrived atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if arrived.Add(1) == n {
			close(all)
		}
		<-all
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := NewSender(srv.URL, 10*time.Second)
	defer s.Close()
	var c Collector
	for i := range n {
		s.Post(context.Background(), Request{Seq: i, ID: jobID("open-", i), Kind: "io"}, &c)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !c.Wait(wctx) {
		t.Fatalf("%d of %d requests reached the server", arrived.Load(), n)
	}
	for _, o := range c.Outcomes() {
		if o.Status != http.StatusAccepted {
			t.Errorf("%s: %+v", o.ID, o)
		}
	}
}

// Past maxConns a request waits for a connection, and its outcome says so:
// the capacity ladder must not blame the generator for a server that holds
// every connection unanswered.
func TestSenderMarksRequestsThatWaitedForAConnection(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived.Add(1)
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := NewSender(srv.URL, 10*time.Second)
	defer s.Close()
	s.lean.maxConns = 2
	var c Collector
	for i := range 2 {
		s.Post(context.Background(), Request{Seq: i, ID: jobID("cap-", i), Kind: "io"}, &c)
	}
	if !itest.Poll(10*time.Second, func() bool { return arrived.Load() == 2 }) {
		t.Fatalf("%d requests reached the server, want 2", arrived.Load())
	}
	// Both connections now carry an unanswered request.
	for i := 2; i < 4; i++ {
		s.Post(context.Background(), Request{Seq: i, ID: jobID("cap-", i), Kind: "io"}, &c)
	}
	close(release)
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !c.Wait(wctx) {
		t.Fatal("not every request was answered")
	}
	for _, o := range c.Outcomes() {
		if o.Status != http.StatusAccepted {
			t.Errorf("%s: %+v", o.ID, o)
		}
		if o.ConnWait != (o.Seq >= 2) {
			t.Errorf("%s: waited for a connection %v, want %v", o.ID, o.ConnWait, o.Seq >= 2)
		}
	}
}
