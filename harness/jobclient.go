package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// jobClient posts jobs over persistent HTTP/1.1 connections, written by
// hand. net/http writes each request on a goroutine of its own and reads
// the answer on another, so the time it reports as written is when that
// goroutine got to run, not when the request was due, and the hand-offs
// cost CPU on every request. Here the goroutine that posts writes the
// request itself (one write syscall), so "written" is the write, and each
// connection has one reader goroutine that parks in the poller while the
// connection waits for an answer or sits idle.
//
// One request is in flight per connection (no pipelining: a slow answer
// never holds up the next request's write). When every connection is busy
// the next request gets a new one, dialed off the posting goroutine, up to
// maxConns; past that, requests wait for the first connection to come
// free, as net/http's pool would make them.
type jobClient struct {
	url      string // for error messages, as net/http words them
	addr     string // host:port to dial
	host     string // the Host header
	path     string // the request target
	timeout  time.Duration
	maxConns int
	dialer   net.Dialer

	mu     sync.Mutex
	idle   []*jobConn // most recently used last: warm connections first
	open   int        // connections open or being dialed
	spares int        // spare connections being dialed
	queue  []exchange // waiting for a connection (open == maxConns)
	closed bool
}

// exchange is one request on its way: the outcome so far and who gets it.
type exchange struct {
	ctx     context.Context
	o       Outcome
	done    func(Outcome)
	retried bool
}

// maxJobConns bounds the connections to one server: a bound high enough
// that only an overloaded server reaches it, as net/http's was.
const maxJobConns = 256

// minIdle is how few idle connections make the client dial spares (or
// half the busy ones, if more), at most maxSpareDials at a time.
const (
	minIdle       = 4
	maxSpareDials = 4
)

func newJobClient(jobs *url.URL, timeout time.Duration) (*jobClient, error) {
	if jobs.Scheme != "http" || jobs.Host == "" {
		return nil, fmt.Errorf("job client: want an http://host[:port] URL, got %q", jobs.String())
	}
	port := jobs.Port()
	if port == "" {
		port = "80"
	}
	return &jobClient{
		url: jobs.String(), addr: net.JoinHostPort(jobs.Hostname(), port), host: jobs.Host, path: jobs.RequestURI(),
		timeout: timeout, maxConns: maxJobConns,
		dialer: net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second},
	}, nil
}

// post writes r on an idle connection, on the calling goroutine, and
// returns; done gets the outcome from the connection's reader once the
// answer is in (or at once, if the request cannot be sent).
func (cl *jobClient) post(ctx context.Context, r Request, done func(Outcome)) {
	ex := exchange{ctx: ctx, o: Outcome{Request: r, Sent: time.Now()}, done: done}
	if err := ctx.Err(); err != nil {
		cl.fail(ex, err)
		return
	}
	if !validHeaderValue(r.ID) {
		cl.fail(ex, fmt.Errorf("invalid Idempotency-Key %q", r.ID))
		return
	}
	cl.start(ex)
}

// start sends ex on an idle connection, or has one dialed for it, or
// queues it for the next free one.
func (cl *jobClient) start(ex exchange) {
	for {
		c, dial := cl.take(ex)
		switch {
		case c != nil:
			if c.send(ex) {
				return
			}
			// The server closed it while it was idle: take another.
		case dial:
			go cl.dialFor(ex)
			return
		default:
			return // queued
		}
	}
}

// take pops an idle connection; else it reports whether the caller may
// dial one (counted as open), else it queues ex.
func (cl *jobClient) take(ex exchange) (*jobConn, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	// Running low: have the next requests find a connection ready rather
	// than wait for a dial, which runs at the machine's mercy (and the
	// server's: a busy one accepts late). The more are busy, the more a
	// stall of the server's needs at once.
	want := max(minIdle, (cl.open-len(cl.idle)-cl.spares)/2)
	for len(cl.idle)+cl.spares <= want && cl.spares < maxSpareDials && cl.open+1 < cl.maxConns && !cl.closed {
		cl.spares++
		cl.open++
		go cl.dialSpare()
	}
	if n := len(cl.idle); n > 0 {
		c := cl.idle[n-1]
		cl.idle = cl.idle[:n-1]
		return c, false
	}
	if cl.open < cl.maxConns {
		cl.open++
		return nil, true
	}
	// Waiting for a spare being dialed is the generator's own delay; with
	// none coming, every connection is held by an unanswered request.
	ex.o.ConnWait = cl.spares == 0
	cl.queue = append(cl.queue, ex)
	return nil, false
}

// redial sends ex again on a new connection: the idle ones may have been
// closed by the server along with the one ex failed on.
func (cl *jobClient) redial(ex exchange) {
	cl.mu.Lock()
	dial := cl.open < cl.maxConns
	if dial {
		cl.open++
	} else {
		ex.o.ConnWait = cl.spares == 0
		cl.queue = append(cl.queue, ex)
	}
	cl.mu.Unlock()
	if dial {
		cl.dialFor(ex)
	}
}

func (cl *jobClient) dial(ctx context.Context) (*jobConn, error) {
	nc, err := cl.dialer.DialContext(ctx, "tcp", cl.addr)
	if err != nil {
		return nil, err
	}
	c := &jobConn{cl: cl, nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	go c.readLoop()
	return c, nil
}

// dialFor dials a connection for ex and sends it there: the dial is part
// of ex's send delay, as it would be on a net/http client.
func (cl *jobClient) dialFor(ex exchange) {
	ctx := ex.ctx
	if cl.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, ex.o.Sent.Add(cl.timeout))
		defer cancel()
	}
	c, err := cl.dial(ctx)
	if err != nil {
		cl.dropOpen()
		cl.fail(ex, err)
		return
	}
	if !c.send(ex) {
		// Closed by the server before the first request went out.
		cl.fail(ex, errors.New("connection closed before the request was written"))
	}
}

func (cl *jobClient) dialSpare() {
	c, err := cl.dial(context.Background())
	cl.mu.Lock()
	cl.spares--
	cl.mu.Unlock()
	if err != nil {
		cl.dropOpen()
		return
	}
	// Idle from now on, the server may close it before it is used: a
	// request it fails is sent again, as on one used before.
	c.mu.Lock()
	c.used = true
	c.mu.Unlock()
	cl.put(c)
}

// put makes c idle again, or hands it to the first request waiting.
func (cl *jobClient) put(c *jobConn) {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		c.kill() // its reader forgets it
		return
	}
	if len(cl.queue) == 0 {
		cl.idle = append(cl.idle, c)
		cl.mu.Unlock()
		return
	}
	ex := cl.queue[0]
	cl.queue[0] = exchange{}
	cl.queue = cl.queue[1:]
	cl.mu.Unlock()
	if !c.send(ex) {
		cl.start(ex) // c died meanwhile: ex goes the ordinary way
	}
}

// remove forgets a dead connection.
func (cl *jobClient) remove(c *jobConn) {
	cl.mu.Lock()
	for i, ic := range cl.idle {
		if ic == c {
			cl.idle = append(cl.idle[:i], cl.idle[i+1:]...)
			break
		}
	}
	cl.mu.Unlock()
	cl.dropOpen()
}

// dropOpen counts one connection fewer and, if requests are waiting, dials
// for the first of them.
func (cl *jobClient) dropOpen() {
	cl.mu.Lock()
	cl.open--
	var ex exchange
	dial := len(cl.queue) > 0 && cl.open < cl.maxConns
	if dial {
		ex = cl.queue[0]
		cl.queue[0] = exchange{}
		cl.queue = cl.queue[1:]
		cl.open++
	}
	cl.mu.Unlock()
	if dial {
		go cl.dialFor(ex)
	}
}

// close drops the idle connections; busy ones close when their answer is
// in.
func (cl *jobClient) close() {
	cl.mu.Lock()
	cl.closed = true
	idle := cl.idle
	cl.idle = nil
	cl.mu.Unlock()
	for _, c := range idle {
		c.kill()
	}
}

// fail ends ex without an answer.
func (cl *jobClient) fail(ex exchange, err error) {
	ex.o.Done = time.Now()
	ex.o.Canceled = errors.Is(err, context.Canceled)
	var ne net.Error
	ex.o.Timeout = !ex.o.Canceled && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
	if ex.o.Timeout && cl.timeout > 0 && !ex.o.Done.Before(ex.o.Sent.Add(cl.timeout)) {
		err = fmt.Errorf("no answer within %v (request timeout): %w", cl.timeout, err)
	}
	ex.o.Err = fmt.Sprintf("Post %q: %v", cl.url, err)
	ex.done(ex.o)
}

// Connection states: idle connections sit in the pool with their reader
// parked; a busy one carries one exchange; a dead one is closed.
const (
	connIdle = iota
	connBusy
	connDead
)

// jobConn is one connection and its reader goroutine.
type jobConn struct {
	cl *jobClient
	nc net.Conn
	br *bufio.Reader // the reader goroutine's alone

	mu       sync.Mutex // held across the write, so the reader sees Wrote
	state    int
	ex       exchange
	deadline time.Time
	werr     error // the write failed
	cancel   error // ex's context ended first: its error
	used     bool  // sat idle before this request: the server may have closed it
	wbuf     []byte
	body     []byte
	watched  context.Context // the context stopWatch watches for
	stopCtx  func() bool
}

// longAgo is a deadline in the past: it wakes a parked read or write.
var longAgo = time.Unix(1, 0)

// send writes ex on c, on the calling goroutine. It reports false if c
// died before it could be used.
func (c *jobConn) send(ex exchange) bool {
	cl := c.cl
	var deadline time.Time
	if cl.timeout > 0 {
		deadline = ex.o.Sent.Add(cl.timeout)
		// Set before the connection is busy: a cancel from now on sets its
		// own deadline after this one.
		_ = c.nc.SetDeadline(deadline)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == connDead {
		return false
	}
	c.state, c.ex, c.deadline, c.werr, c.cancel = connBusy, ex, deadline, nil, nil
	c.watch(ex.ctx)
	if err := ex.ctx.Err(); err != nil {
		c.cancel = err
		_ = c.nc.SetDeadline(longAgo)
		return true
	}
	c.body = appendJobBody(c.body[:0], ex.o.Request)
	c.wbuf = appendJobRequest(c.wbuf[:0], cl.host, cl.path, ex.o.ID, c.body)
	if _, err := c.nc.Write(c.wbuf); err != nil {
		c.werr = err
		_ = c.nc.SetDeadline(longAgo) // the reader ends the exchange
		return true
	}
	c.ex.o.Wrote = time.Now()
	return true
}

// watch has ctx's end cut off the exchange in flight on c. One
// registration serves every request of a run on this connection, not one
// per request (c.mu held).
func (c *jobConn) watch(ctx context.Context) {
	if ctx == c.watched {
		return
	}
	if c.stopCtx != nil {
		c.stopCtx()
		c.stopCtx = nil
	}
	c.watched = ctx
	if ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(ctx, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.state == connBusy && c.ex.ctx == ctx && c.cancel == nil {
				c.cancel = ctx.Err()
				_ = c.nc.SetDeadline(longAgo)
			}
		})
	}
}

func (c *jobConn) kill() {
	c.mu.Lock()
	c.state = connDead
	if c.stopCtx != nil {
		c.stopCtx()
		c.stopCtx = nil
	}
	c.mu.Unlock()
	_ = c.nc.Close()
}

// readLoop reads each answer and ends its exchange; it parks in the
// poller between them. It ends when the connection does.
func (c *jobConn) readLoop() {
	cl := c.cl
	for {
		_, err := c.br.Peek(1)
		c.mu.Lock()
		if c.state != connBusy {
			// Bytes, EOF or a stale deadline on an idle connection: the
			// server closed it (or misbehaves); nobody waits on it.
			c.state = connDead
			c.mu.Unlock()
			c.kill()
			cl.remove(c)
			return
		}
		if err != nil && c.cancel == nil && c.werr == nil && isTimeout(err) && time.Now().Before(c.deadline) {
			// The deadline of an earlier request fired just before this
			// one set its own.
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		status, keep, unanswered := 0, false, err != nil
		if err == nil {
			status, keep, err = readResponse(c.br)
		}
		c.mu.Lock() // the write is over once this is held
		ex, werr, cancel, used := c.ex, c.werr, c.cancel, c.used
		c.ex, c.used = exchange{}, true
		ok := err == nil && werr == nil && cancel == nil && keep
		if ok {
			c.state = connIdle
		}
		c.mu.Unlock()
		retry := false
		switch {
		case cancel != nil:
			cl.fail(ex, cancel)
		case status > 0:
			// An answer, even one whose body broke off: net/http too hands
			// the status over before the body is read.
			ex.o.Done, ex.o.Status = time.Now(), status
			ex.done(ex.o)
		case used && !ex.retried && (werr != nil || unanswered && !isTimeout(err)):
			// A kept-alive connection the server closed as the request went
			// out: nothing of it was answered, so it is sent again once, on
			// another connection, as net/http does for a request with an
			// Idempotency-Key.
			ex.retried, ex.o.Wrote, retry = true, time.Time{}, true
		default:
			if werr != nil {
				err = werr
			}
			cl.fail(ex, err)
		}
		if !ok {
			c.kill()
			cl.remove(c)
			if retry {
				cl.redial(ex)
			}
			return
		}
		cl.put(c)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// appendJobRequest appends the request net/http's client sends for a job
// (NewJobRequest, DisableCompression), byte for byte: a server must not
// be able to tell the generator from what it was before.
func appendJobRequest(b []byte, host, path, id string, body []byte) []byte {
	b = append(b, "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nContent-Type: application/json\r\nIdempotency-Key: "...)
	b = append(b, id...)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// validHeaderValue reports whether v may go in a header as it is (what
// net/http would refuse to send).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// errMalformed is an answer that is not HTTP/1.x.
var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one answer, body included, and reports its status
// and whether the connection may carry another request.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, false, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
			return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		status = 0
		for _, d := range line[9:12] {
			if d < '0' || d > '9' {
				return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
			}
			status = status*10 + int(d-'0')
		}
		http10 := line[7] == '0'
		keep = !http10
		length, chunked := int64(-1), false
		for {
			h, err := readLine(br)
			if err != nil {
				return status, false, err
			}
			if len(h) == 0 {
				break
			}
			i := bytes.IndexByte(h, ':')
			if i <= 0 {
				return status, false, fmt.Errorf("%w: header %q", errMalformed, h)
			}
			name, value := h[:i], bytes.TrimSpace(h[i+1:])
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || length >= 0 && n != length {
					return status, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
				}
				length = n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = hasToken(value, "chunked")
			case bytes.EqualFold(name, []byte("Connection")):
				if hasToken(value, "close") {
					keep = false
				} else if http10 && hasToken(value, "keep-alive") {
					keep = true
				}
			}
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // informational: the answer follows
		}
		switch {
		case status == 101:
			return status, false, nil // a switch of protocol is not ours to read
		case status == 204 || status == 304:
		case chunked:
			err = discardChunked(br)
		case length >= 0:
			_, err = br.Discard(int(length))
		default:
			// No length: the body runs to the connection's end.
			_, err = io.Copy(io.Discard, br)
			keep = false
		}
		if err != nil {
			keep = false
		}
		return status, keep, err
	}
}

// readLine returns one line without its CRLF; it is valid until the next
// read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: header line too long", errMalformed)
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for { // trailers, up to the empty line
				t, err := readLine(br)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		if t, err := readLine(br); err != nil || len(t) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
	}
}

// hasToken reports whether the comma list v holds tok (any case).
func hasToken(v []byte, tok string) bool {
	for f := range bytes.SplitSeq(v, []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(f), []byte(tok)) {
			return true
		}
	}
	return false
}
