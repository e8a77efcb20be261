package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one job the generator owes the server.
type Request struct {
	Seq    int
	ID     string // sent as Idempotency-Key: the id the sink will report
	Kind   string // io or cpu
	CostMS int    // cpu jobs only
	Due    time.Time
}

// Outcome is what happened to one request: its timestamps (due, sent,
// wrote, done) and the answer.
type Outcome struct {
	Request
	Sent time.Time // the sending goroutine took the request
	// Wrote is when the request's headers were written to its connection
	// (zero when it never got that far): Wrote - Due is the generator's own
	// delay, goroutine start and dial included, which must not be charged
	// to the server.
	Wrote    time.Time
	Done     time.Time
	Status   int    // 0: transport error
	Err      string // transport error, if any
	Timeout  bool   // the error was the request timeout
	Canceled bool   // the error was the run being stopped (Ctrl-C), not the server
}

// Accepted reports a 2xx answer: the server took the job.
func (o Outcome) Accepted() bool { return o.Status >= 200 && o.Status < 300 }

// Sender sends jobs and probes to one server. Safe for concurrent use.
type Sender struct {
	Base   string // http://host:port
	Client *http.Client
}

// NewSender returns a sender whose client never limits connections: an
// open-loop generator must not queue behind its own connection pool.
func NewSender(base string, timeout time.Duration) *Sender {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2000,
		MaxIdleConnsPerHost: 2000,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &Sender{Base: base, Client: &http.Client{Transport: tr, Timeout: timeout}}
}

// Close drops idle connections.
func (s *Sender) Close() { s.Client.CloseIdleConnections() }

// jobBody is the POST /jobs payload the harness sends.
func jobBody(r Request) []byte {
	m := map[string]any{
		"to":      "bench@example.org",
		"subject": "offload bench " + r.ID,
		"text":    "one job of an offload bench run",
		"kind":    r.Kind,
	}
	if r.Kind == "cpu" {
		m["cost_ms"] = r.CostMS
	}
	b, _ := json.Marshal(m) // a map of strings and ints always encodes
	return b
}

// NewJobRequest builds the HTTP request for r (also used for hey).
func NewJobRequest(ctx context.Context, base string, r Request) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/jobs", bytes.NewReader(jobBody(r)))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", r.ID)
	return req, nil
}

// Job posts r and reports its outcome.
func (s *Sender) Job(ctx context.Context, r Request) Outcome {
	req, err := NewJobRequest(ctx, s.Base, r)
	if err != nil {
		return Outcome{Request: r, Sent: time.Now(), Done: time.Now(), Err: err.Error()}
	}
	return s.do(req, r)
}

// Probe gets /healthz: the cost a blocked loop imposes on other clients.
func (s *Sender) Probe(ctx context.Context, seq int, due time.Time) Outcome {
	r := Request{Seq: seq, Kind: "probe", Due: due}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base+"/healthz", nil)
	if err != nil {
		return Outcome{Request: r, Sent: time.Now(), Done: time.Now(), Err: err.Error()}
	}
	return s.do(req, r)
}

func (s *Sender) do(req *http.Request, r Request) Outcome {
	o := Outcome{Request: r, Sent: time.Now()}
	// The trace hook runs on the transport's writer goroutine; an offset
	// from Sent keeps the monotonic clock reading.
	var wrote atomic.Int64
	sent := o.Sent
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(int64(time.Since(sent)) + 1) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := s.Client.Do(req)
	if w := wrote.Load(); w != 0 {
		o.Wrote = sent.Add(time.Duration(w - 1))
	}
	if err != nil {
		o.Done, o.Err = time.Now(), err.Error()
		o.Canceled = errors.Is(err, context.Canceled)
		var ne net.Error
		o.Timeout = !o.Canceled && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
		return o
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.Done, o.Status = time.Now(), resp.StatusCode
	return o
}

// Collector gathers outcomes from many sending goroutines and lets the
// generator wait for the ones still in flight.
type Collector struct {
	mu       sync.Mutex
	outcomes []Outcome
	wg       sync.WaitGroup
	sent     int64
	accepted int64
	onAccept []chan struct{} // closed at the next acceptance
}

// Go runs send in its own goroutine and keeps its outcome: open loop, the
// caller never waits for the answer.
func (c *Collector) Go(send func() Outcome) {
	c.wg.Add(1)
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		o := send()
		c.mu.Lock()
		c.outcomes = append(c.outcomes, o)
		if o.Accepted() {
			c.accepted++
			for _, ch := range c.onAccept {
				close(ch)
			}
			c.onAccept = nil
		}
		c.mu.Unlock()
	}()
}

// Wait waits for every request in flight, or until ctx ends; it reports
// whether all answered.
func (c *Collector) Wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// awaitAccept returns as soon as the next 2xx answer arrives (at most 200ms).
func (c *Collector) awaitAccept(ctx context.Context) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.onAccept = append(c.onAccept, ch)
	c.mu.Unlock()
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

func (c *Collector) sentCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.sent)
}

// Counts returns requests sent and accepted so far (for progress).
func (c *Collector) Counts() (sent, accepted int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.accepted
}

// Outcomes returns a copy of the outcomes gathered so far.
func (c *Collector) Outcomes() []Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Outcome(nil), c.outcomes...)
}
