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
	"net/url"
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
	// ConnWait: every connection (maxJobConns) was busy with a request
	// the server had not answered, so this one waited for one to come
	// free before it was written. Its send delay is the server's doing.
	ConnWait bool
}

// Accepted reports a 2xx answer: the server took the job.
func (o Outcome) Accepted() bool { return o.Status >= 200 && o.Status < 300 }

// Sender sends jobs and probes to one server. Safe for concurrent use.
// Jobs go through the generator's own HTTP/1.1 client (jobclient.go);
// probes, and jobs to a base that is not plain http://, through Client.
type Sender struct {
	Base   string // http://host:port
	Client *http.Client
	jobs   *url.URL // Base/jobs, parsed once: not once per request
	lean   *jobClient
}

// NewSender returns a sender whose client never limits connections: an
// open-loop generator must not queue behind its own connection pool.
func NewSender(base string, timeout time.Duration) *Sender {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2000,
		MaxIdleConnsPerHost: 2000,
		MaxConnsPerHost:     256,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	u, _ := url.Parse(base + "/jobs") // an unparsable base fails every request, in Job
	s := &Sender{Base: base, Client: &http.Client{Transport: tr, Timeout: timeout}, jobs: u}
	if u != nil {
		s.lean, _ = newJobClient(u, timeout) // nil for https: net/http posts those
	}
	return s
}

// Close drops idle connections.
func (s *Sender) Close() {
	s.Client.CloseIdleConnections()
	if s.lean != nil {
		s.lean.close()
	}
}

// jobPayload is the POST /jobs payload the harness sends.
type jobPayload struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	Kind    string `json:"kind"`
	CostMS  int    `json:"cost_ms,omitempty"` // cpu jobs only
}

func jobBody(r Request) []byte { return appendJobBody(make([]byte, 0, 128), r) }

// appendJobBody appends r's payload to b.
func appendJobBody(b []byte, r Request) []byte {
	if r.Kind == "io" && plainID(r.ID) {
		// The common case, built by appending: no reflection per request.
		b = append(b, `{"to":"bench@example.org","subject":"offload bench `...)
		b = append(b, r.ID...)
		return append(b, `","text":"one job of an offload bench run","kind":"io"}`...)
	}
	p := jobPayload{To: "bench@example.org", Subject: "offload bench " + r.ID, Text: "one job of an offload bench run", Kind: r.Kind}
	if r.Kind == "cpu" {
		p.CostMS = r.CostMS
	}
	j, _ := json.Marshal(p) // strings and an int always encode
	return append(b, j...)
}

// plainID reports whether id needs no JSON escaping.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

var jsonContentType = []string{"application/json"}

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

// Post sends r and returns without waiting for the answer: open loop.
// The request is written on the calling goroutine when a connection is
// idle (Fire's firing thread: its write time is the real one); the
// outcome goes to c once the answer is in.
func (s *Sender) Post(ctx context.Context, r Request, c *Collector) {
	c.begin()
	s.post(ctx, r, c.finish)
}

func (s *Sender) post(ctx context.Context, r Request, done func(Outcome)) {
	if s.lean != nil {
		s.lean.post(ctx, r, done)
		return
	}
	go func() { done(s.netJob(ctx, r)) }()
}

// netJob posts r through net/http.
func (s *Sender) netJob(ctx context.Context, r Request) Outcome {
	if s.jobs == nil || s.jobs.Host == "" {
		return Outcome{Request: r, Sent: time.Now(), Done: time.Now(), Err: fmt.Sprintf("build request: bad base URL %q", s.Base)}
	}
	// Built by hand on the URL parsed once: at tens of thousands of
	// requests a second, parsing it again is the generator's own cost.
	body := jobBody(r)
	req := &http.Request{
		Method: http.MethodPost, URL: s.jobs, Host: s.jobs.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": jsonContentType, "Idempotency-Key": []string{r.ID}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	return s.do(ctx, req, r)
}

// Probe gets /healthz: the cost a blocked loop imposes on other clients.
func (s *Sender) Probe(ctx context.Context, seq int, due time.Time) Outcome {
	r := Request{Seq: seq, Kind: "probe", Due: due}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base+"/healthz", nil)
	if err != nil {
		return Outcome{Request: r, Sent: time.Now(), Done: time.Now(), Err: err.Error()}
	}
	return s.do(ctx, req, r)
}

func (s *Sender) do(ctx context.Context, req *http.Request, r Request) Outcome {
	o := Outcome{Request: r, Sent: time.Now()}
	// The trace hook runs on the transport's writer goroutine; an offset
	// from Sent keeps the monotonic clock reading.
	var wrote atomic.Int64
	sent := o.Sent
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(int64(time.Since(sent)) + 1) }}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
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
	// sent takes no lock: the firing thread counts its Post here and must
	// not wait for a reader that holds mu (growing the outcomes under it
	// takes milliseconds).
	sent     atomic.Int64
	accepted int64
	onAccept []chan struct{} // closed at the next acceptance
	work     chan func() Outcome
}

// workerIdle is how long a sending goroutine waits for its next request
// before it exits.
const workerIdle = 2 * time.Second

// Go runs send on a sending goroutine and keeps its outcome: open loop, the
// caller never waits for the answer. An idle goroutine takes it if there is
// one, else a new one starts: as many run as requests are in flight, and
// they are reused, so the generator does not pay for a fresh goroutine and
// its stack growth (net/http's calls run deep) on every request.
func (c *Collector) Go(send func() Outcome) {
	c.wg.Add(1)
	c.sent.Add(1)
	c.mu.Lock()
	if c.work == nil {
		c.work = make(chan func() Outcome)
	}
	work := c.work
	c.mu.Unlock()
	select {
	case work <- send:
	default:
		go c.worker(send, work)
	}
}

// begin counts a request sent whose outcome finish will bring (Post).
func (c *Collector) begin() {
	c.wg.Add(1)
	c.sent.Add(1)
}

func (c *Collector) finish(o Outcome) {
	c.record(o)
	c.wg.Done()
}

func (c *Collector) worker(send func() Outcome, work chan func() Outcome) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c.record(send())
		c.wg.Done()
		idle.Reset(workerIdle)
		select {
		case send = <-work:
		case <-idle.C:
			return
		}
	}
}

func (c *Collector) record(o Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes = append(c.outcomes, o)
	if o.Accepted() {
		c.accepted++
		for _, ch := range c.onAccept {
			close(ch)
		}
		c.onAccept = nil
	}
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

func (c *Collector) sentCount() int { return int(c.sent.Load()) }

// Counts returns requests sent and accepted so far (for progress).
func (c *Collector) Counts() (sent, accepted int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent.Load(), c.accepted
}

// Outcomes returns a copy of the outcomes gathered so far.
func (c *Collector) Outcomes() []Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Outcome(nil), c.outcomes...)
}
