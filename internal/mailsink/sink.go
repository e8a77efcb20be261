// Package mailsink is a real SMTP server standing in for the email provider.
// It records which jobs were delivered, when, and how many times: the
// harness decides loss and duplicates from this record, never from HTTP
// status codes. It also models the provider itself: a latency per message
// (fixed or lognormal), a connection limit (421 beyond it) and a rate limit
// (454 beyond it), as real providers have, plus a failure rate and outage
// windows that make it unhealthy on demand.
package mailsink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/textproto"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/offload/offload/internal/mailer"
)

// Config configures a Sink: the one set of provider settings that
// `offload sink`, `offload run` and the bench's own sink all build. Zero
// values take the documented defaults; the zero Config is an instant,
// unlimited provider (tests), while the commands default to DefaultLatency.
type Config struct {
	Addr string // SMTP listen address; default 127.0.0.1:0 (a free port)
	// Delay is the time to accept each message after its body arrived; 0
	// is instant. With DelayP99 above it, Delay is the median of a
	// lognormal draw (seeded by Seed) and DelayP99 its 99th percentile.
	Delay    time.Duration
	DelayP99 time.Duration
	// RTT is a network round trip added to the MAIL and RCPT replies, so a
	// message spends time in flight before its body is sent: a client that
	// dies then loses it, as it would talking to a distant provider.
	RTT time.Duration
	// MaxConns is the most SMTP connections open at once; a connection
	// beyond it is answered 421 and closed. 0: no limit.
	MaxConns int
	// RateLimit is the most mails accepted per second (a token bucket);
	// a mail beyond it is answered 454 ThrottleMessage. 0: no limit.
	RateLimit float64
	// RateBurst is the bucket's size; default a tenth of a second of
	// RateLimit, at least 1.
	RateBurst int
	FailRate  float64          // fraction of messages answered 451; 0..1
	Seed      uint64           // seeds the failure and latency draws so runs repeat; 0 picks one
	Logger    *slog.Logger     `json:"-"` // default slog.Default()
	Now       func() time.Time `json:"-"`
}

// Latency is the latency part of c.
func (c Config) Latency() Latency { return Latency{RTT: c.RTT, Median: c.Delay, P99: c.DelayP99} }

// WithLatency returns c with its latency set to l.
func (c Config) WithLatency(l Latency) Config {
	c.RTT, c.Delay, c.DelayP99 = l.RTT, l.Median, l.P99
	return c
}

func (c Config) validate() error {
	if c.FailRate < 0 || c.FailRate > 1 {
		return fmt.Errorf("fail-rate %v: must be between 0 and 1", c.FailRate)
	}
	if err := c.Latency().validate(); err != nil {
		return err
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("max-conns %d: must not be negative", c.MaxConns)
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		return fmt.Errorf("rate-limit %v, burst %d: %w", c.RateLimit, c.RateBurst, errNegativeRate)
	}
	return nil
}

var errNegativeRate = errors.New("a rate limit must be a finite number, not negative (0: none)")

// Delivery is what the sink knows about one job id.
type Delivery struct {
	ID    string    `json:"id"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int       `json:"count"`
}

// Stats summarises what the sink received.
type Stats struct {
	Received   int64 `json:"received"`   // messages accepted (250)
	Unique     int   `json:"unique"`     // distinct job ids among them
	Duplicates int64 `json:"duplicates"` // received - unique
	Rejected   int64 `json:"rejected"`   // messages answered 451 (fail-rate or outage)
	NoJobID    int64 `json:"no_job_id"`  // accepted messages without an X-Offload-Job header
	Outage     bool  `json:"outage"`     // answering 451 to everything right now
	// Throttled counts the provider's "slow down" answers: 421 to a
	// connection beyond MaxConns (ConnsRefused of them) and 454 to a mail
	// beyond RateLimit.
	Throttled    int64 `json:"throttled"`
	ConnsRefused int64 `json:"conns_refused"`
	// Conns is SMTP connections open now; MaxConnsSeen the most at once
	// since start (or Reset): what a client's pool really held.
	Conns        int64   `json:"conns"`
	MaxConnsSeen int64   `json:"max_conns_seen"`
	ConnsOpened  int64   `json:"conns_opened"` // connections admitted in all
	RateLimit    float64 `json:"rate_limit"`   // mails/s in force; 0 none
	// InFlight is messages between MAIL and the end of DATA right now:
	// how many deliveries the senders have under way at once, which caps
	// their rate at InFlight divided by one message's time.
	InFlight int64 `json:"in_flight"`
}

// Sink is a running SMTP server. Safe for concurrent use.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	srv    *smtp.Server
	ln     net.Listener
	served chan struct{}

	mu           sync.Mutex
	rng          *rand.Rand
	byID         map[string]*Delivery
	stats        Stats
	outageUntil  time.Time
	stallUntil   time.Time
	subscribers  []chan<- Delivery
	closeOnce    sync.Once
	inFlight     atomic.Int64
	bucket       bucket // the rate limit; under mu
	conns        atomic.Int64
	maxConns     atomic.Int64
	maxConnsSeen atomic.Int64
	connsOpened  atomic.Int64
	hold         atomic.Pointer[chan struct{}] // see Hold
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail sink: listen on %s: %w", cfg.Addr, err)
	}
	s := &Sink{
		cfg:    cfg,
		log:    cfg.Logger,
		ln:     ln,
		served: make(chan struct{}),
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		byID:   make(map[string]*Delivery),
		bucket: newBucket(cfg.RateLimit, cfg.RateBurst, cfg.Now()),
	}
	s.maxConns.Store(int64(cfg.MaxConns))
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{sink: s}, nil
	}))
	s.srv.Domain = "sink.offload"
	// A client killed mid-session (the harness's faults) is routine here:
	// log it at debug level, not on stderr.
	s.srv.ErrorLog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
	s.srv.ReadTimeout = 60 * time.Second
	s.srv.WriteTimeout = 60 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(limitListener{ln, s}); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("mail sink stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the SMTP address to send to.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Listen serves the same sink on addr as well, until stop or Close: a
// process in another network namespace cannot reach loopback, so it sends
// to an address of the host's end of its veth instead. Every message is
// recorded as one sent to Addr would be. It returns the address listened
// on (addr with its port chosen, if it was 0).
func (s *Sink) Listen(addr string) (string, func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("mail sink: listen on %s: %w", addr, err)
	}
	go func() {
		if err := s.srv.Serve(limitListener{ln, s}); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("mail sink stopped listening", "addr", addr, "err", err)
		}
	}()
	return ln.Addr().String(), sync.OnceValue(ln.Close), nil
}

// Close stops the server; safe to call twice.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		// Shutdown closes only the listeners Serve has registered: a Close
		// right after Start (a test failing at once) would wait forever.
		_ = s.ln.Close()
		<-s.served
	})
	return nil
}

// Outage makes the sink answer 451 to every message for d from now
// (d <= 0 ends an outage at once).
func (s *Sink) Outage(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outageUntil = s.cfg.Now().Add(d)
	s.log.Info("mail sink outage", "for", d)
}

// Stall makes the sink hold every message it receives until d from now
// before accepting it, as a provider that has slowed down does, so a test
// can make delivery slow on demand.
func (s *Sink) Stall(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallUntil = s.cfg.Now().Add(d)
}

func (s *Sink) stalled() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stallUntil.Sub(s.cfg.Now())
}

// Reset forgets every delivery, so one sink can serve several runs.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID = make(map[string]*Delivery)
	s.stats = Stats{}
	s.outageUntil = time.Time{}
	s.stallUntil = time.Time{}
	s.maxConnsSeen.Store(s.conns.Load())
	s.connsOpened.Store(0)
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Unique = len(s.byID)
	st.Duplicates = st.Received - st.NoJobID - int64(st.Unique)
	st.Outage = s.cfg.Now().Before(s.outageUntil)
	st.InFlight = s.inFlight.Load()
	st.Conns, st.MaxConnsSeen, st.ConnsOpened = s.conns.Load(), s.maxConnsSeen.Load(), s.connsOpened.Load()
	st.RateLimit = s.bucket.rate
	return st
}

// Delivery returns what the sink knows about one job id.
func (s *Sink) Delivery(id string) (Delivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byID[id]
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}

// Deliveries returns every job id received, ordered by first delivery.
func (s *Sink) Deliveries() []Delivery {
	s.mu.Lock()
	out := make([]Delivery, 0, len(s.byID))
	for _, d := range s.byID {
		out = append(out, *d)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].First.Before(out[j].First) })
	return out
}

// Subscribe sends every accepted message's delivery record to ch as it
// arrives (Count is the count so far). A full channel drops the event
// rather than stall SMTP, so size ch for the expected rate; Deliveries
// stays the complete record.
func (s *Sink) Subscribe(ch chan<- Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribers = append(s.subscribers, ch)
}

// admit decides the fate of one message before it is read in full.
func (s *Sink) admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	outage := s.cfg.Now().Before(s.outageUntil)
	if outage || (s.cfg.FailRate > 0 && s.rng.Float64() < s.cfg.FailRate) {
		s.stats.Rejected++
		msg := "mailbox busy, try again later"
		if outage {
			msg = "provider outage, try again later"
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: msg}
	}
	if !s.bucket.take(s.cfg.Now()) {
		s.stats.Throttled++
		return errThrottled
	}
	return nil
}

// acceptTime draws how long the provider takes over one message's body.
func (s *Sink) acceptTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Latency().Sample(s.rng)
}

func (s *Sink) record(id string) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Received++
	if id == "" {
		s.stats.NoJobID++
		return
	}
	d, ok := s.byID[id]
	if !ok {
		d = &Delivery{ID: id, First: now}
		s.byID[id] = d
	}
	d.Last = now
	d.Count++
	for _, ch := range s.subscribers {
		select {
		case ch <- *d:
		default:
		}
	}
}

type session struct {
	sink *Sink
	inTx bool // between MAIL and the end of DATA (or a reset)
}

func (ss *session) Reset()        { ss.endTx() }
func (ss *session) Logout() error { ss.endTx(); return nil }

func (ss *session) Mail(string, *smtp.MailOptions) error {
	if !ss.inTx {
		ss.inTx = true
		ss.sink.inFlight.Add(1)
	}
	ss.roundTrip()
	return nil
}

func (ss *session) endTx() {
	if ss.inTx {
		ss.inTx = false
		ss.sink.inFlight.Add(-1)
	}
}
func (ss *session) Rcpt(string, *smtp.RcptOptions) error { ss.roundTrip(); return nil }

func (ss *session) roundTrip() {
	if d := ss.sink.cfg.RTT; d > 0 {
		time.Sleep(d)
	}
}

func (ss *session) Data(r io.Reader) error {
	defer ss.endTx()
	tp := textproto.NewReader(bufio.NewReader(r))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		_, _ = io.Copy(io.Discard, r)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "malformed headers"}
	}
	if _, err := io.Copy(io.Discard, tp.R); err != nil {
		return fmt.Errorf("read message body: %w", err)
	}
	ss.sink.waitHeld()
	if d := ss.sink.acceptTime(); d > 0 {
		time.Sleep(d) // the provider's own processing time, per message
	}
	if d := ss.sink.stalled(); d > 0 {
		time.Sleep(d)
	}
	if err := ss.sink.admit(); err != nil {
		return err
	}
	ss.sink.record(hdr.Get(mailer.HeaderJob))
	return nil
}
