package mailsink

import (
	"math"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// ThrottleMessage is the text of the 454 a provider gives a client that
// sends faster than its rate limit (Amazon SES's wording).
const ThrottleMessage = "Throttling failure: Maximum sending rate exceeded"

// connGreeting421 is what a provider says, instead of its greeting, to a
// connection beyond its limit; then it hangs up.
const connGreeting421 = "421 4.7.0 Too many concurrent connections, try again later\r\n"

// limitListener admits at most max connections at once (0: any number)
// and counts them, so a test can see the most a client ever held.
type limitListener struct {
	net.Listener
	sink *Sink
}

func (l limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.sink.admitConn() {
			return &countedConn{Conn: c, sink: l.sink}, nil
		}
		// Refused before the SMTP server sees it: a real provider answers
		// 421 in place of its 220 greeting and closes.
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte(connGreeting421))
		_ = c.Close()
	}
}

// countedConn gives its slot back once, when the server closes it.
type countedConn struct {
	net.Conn
	sink *Sink
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.sink.conns.Add(-1) })
	return c.Conn.Close()
}

// admitConn takes a connection slot, or counts a 421 when none is free.
func (s *Sink) admitConn() bool {
	n := s.conns.Add(1)
	if limit := s.maxConns.Load(); limit > 0 && n > limit {
		s.conns.Add(-1)
		s.mu.Lock()
		s.stats.Throttled++
		s.stats.ConnsRefused++
		s.mu.Unlock()
		return false
	}
	s.connsOpened.Add(1)
	for {
		seen := s.maxConnsSeen.Load()
		if n <= seen || s.maxConnsSeen.CompareAndSwap(seen, n) {
			return true
		}
	}
}

// bucket is a token bucket: rate tokens per second, at most burst saved.
// A message takes one token; with none left the provider answers 454.
type bucket struct {
	rate   float64 // 0: no limit
	burst  float64
	tokens float64
	last   time.Time
}

// burstFor is the bucket size for a rate: a tenth of a second's worth,
// at least one mail, so a limit is felt within a tenth of a second rather
// than after a long burst.
func burstFor(rate float64) float64 { return max(1, math.Ceil(rate/10)) }

func newBucket(rate float64, burst int, now time.Time) bucket {
	b := float64(burst)
	if b <= 0 {
		b = burstFor(rate)
	}
	return bucket{rate: rate, burst: b, tokens: b, last: now}
}

// take spends one token if there is one.
func (b *bucket) take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// throttleErr is the 454 answer.
var errThrottled = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: ThrottleMessage}

// SetRateLimit changes the provider's rate limit at run time, in mails per
// second (0 lifts it): a scenario sets it, holds it, then lifts it. The
// bucket starts full at the new rate's burst.
func (s *Sink) SetRateLimit(perSecond float64) error {
	if perSecond < 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		return errNegativeRate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucket = newBucket(perSecond, s.cfg.RateBurst, s.cfg.Now())
	s.log.Info("mail sink rate limit", "per_second", perSecond)
	return nil
}

// RateLimit is the rate limit in force, in mails per second (0: none).
func (s *Sink) RateLimit() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bucket.rate
}

// SetMaxConns changes the connection limit (0: none). Connections already
// open stay; new ones beyond the limit are answered 421.
func (s *Sink) SetMaxConns(n int) { s.maxConns.Store(int64(max(n, 0))) }
