// Package mailer delivers a job's email over SMTP. Every strategy and worker
// sends through it, so the message each one produces is identical and the
// mail sink can identify the job in it (Message-ID and X-Offload-Job).
package mailer

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/offload/offload/internal/job"
)

// From is the envelope and header sender of every mail.
const From = "offload@localhost"

// HeaderJob names the header that carries the job id.
const HeaderJob = "X-Offload-Job"

// Config configures a Mailer. Zero values take the documented defaults.
type Config struct {
	Addr string // SMTP server host:port; required
	// MaxConns is the sender's concurrency: at most this many sends at
	// once, over a pool of at most this many SMTP connections, reused (a
	// send beyond waits for one). 0: no cap, and no pool: every send opens
	// its own connection and ends it with QUIT, as nodemailer does
	// without `pool: true`.
	MaxConns    int
	DialTimeout time.Duration // default 5s
	SendTimeout time.Duration // whole-message limit when ctx has none; default 30s
}

// Mailer sends mail, over a pool of reused SMTP connections when it has a
// concurrency (Config.MaxConns); it is safe for concurrent use. Reuse
// matters: a new TCP+SMTP handshake per mail costs the sender CPU and the
// provider a connection slot, and a provider that limits connections
// answers 421 to a sender that opens too many.
type Mailer struct {
	cfg   Config
	slots chan struct{} // one per send in flight; nil: no cap
	mu    sync.Mutex
	idle  []pooled
	done  bool
}

// New returns a Mailer for cfg.Addr. It does not connect until the first Send.
func New(cfg Config) (*Mailer, error) {
	if cfg.Addr == "" {
		return nil, errors.New("mailer: smtp address is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("mailer: smtp address %q: %w", cfg.Addr, err)
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("mailer: concurrency %d: must not be negative (0: no cap)", cfg.MaxConns)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	m := &Mailer{cfg: cfg}
	if cfg.MaxConns > 0 {
		m.slots = make(chan struct{}, cfg.MaxConns)
	}
	return m, nil
}

// Concurrency is the most sends at once (0: no cap).
func (m *Mailer) Concurrency() int { return m.cfg.MaxConns }

// Error is a failed delivery. Temporary is true for 4xx answers and network
// failures, which a retry may cure; false for 5xx rejections. Code is the
// server's SMTP reply code, 0 when it gave none (a network failure).
type Error struct {
	JobID     string
	Temporary bool
	Code      int
	Err       error
}

func (e *Error) Error() string { return fmt.Sprintf("send mail for job %s: %v", e.JobID, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrTemporary) and errors.Is(err, ErrThrottled)
// answer for a delivery failure.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTemporary:
		return e.Temporary
	case ErrThrottled:
		return e.Code == 421 || e.Code == 454
	}
	return false
}

// ErrTemporary matches (errors.Is) a delivery failure a retry may cure: a
// 4xx answer or a network failure. A sender that honours it retries later,
// with backoff; one that drops the job loses mail.
var ErrTemporary = errors.New("temporary delivery failure")

// ErrThrottled matches a provider's "slow down": 421 (too many connections,
// or closing) or 454 (sending rate exceeded). It is also ErrTemporary.
var ErrThrottled = errors.New("provider throttled the sender")

// IsTemporary reports whether err is a delivery failure worth retrying.
func IsTemporary(err error) bool { return errors.Is(err, ErrTemporary) }

// IsThrottled reports whether err is the provider asking to slow down.
func IsThrottled(err error) bool { return errors.Is(err, ErrThrottled) }

// failure wraps err as the Error for j, reading its SMTP code if any.
func failure(j job.Job, err error) *Error {
	e := &Error{JobID: j.ID, Temporary: true, Err: err}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e.Code = se.Code
		e.Temporary = se.Code >= 400 && se.Code < 500
	}
	return e
}

// Send delivers j's mail. It blocks for the whole SMTP exchange.
func (m *Mailer) Send(ctx context.Context, j job.Job) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.SendTimeout)
		defer cancel()
	}
	if m.slots != nil {
		select {
		case m.slots <- struct{}{}:
			defer func() { <-m.slots }()
		case <-ctx.Done():
			return &Error{JobID: j.ID, Temporary: true, Err: fmt.Errorf("wait for a free smtp connection: %w", ctx.Err())}
		}
	}
	err := m.attempt(ctx, j, m.slots != nil)
	if errors.Is(err, errStale) {
		// A pooled session may have been closed by the server while idle
		// (a restarted sink): one retry on a fresh connection. Never after
		// DATA ended, since that mail may already have been accepted.
		err = m.attempt(ctx, j, false)
	}
	return err
}

var errStale = errors.New("reused smtp session failed before DATA")

func (m *Mailer) attempt(ctx context.Context, j job.Job, reuse bool) error {
	c, conn, reused, err := m.get(ctx, reuse)
	if err != nil {
		return failure(j, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	err = transact(c, j)
	if err != nil && reused && !errors.Is(err, errAfterData) {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			_ = c.Close()
			return fmt.Errorf("%w: %v", errStale, err)
		}
	}
	if err != nil {
		var se *smtp.SMTPError
		// A clean SMTP error leaves the session usable after RSET, unless
		// the server said 421: it is closing the connection.
		if errors.As(err, &se) && se.Code != 421 && c.Reset() == nil {
			m.put(c, conn)
			return failure(j, err)
		}
		_ = c.Close()
		return failure(j, err)
	}
	m.put(c, conn)
	return nil
}

func transact(c *smtp.Client, j job.Job) error {
	if err := c.Mail(From, nil); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(j.To, nil); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(Message(j, time.Now())); err != nil {
		_ = w.Close()
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return fmt.Errorf("message refused: %w", err) // an explicit answer: nothing was accepted
		}
		return fmt.Errorf("end of DATA: %w: %w", errAfterData, err)
	}
	return nil
}

// Message renders j as an RFC 5322 message with CRLF line endings.
func Message(j job.Job, now time.Time) []byte {
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", "offload <"+From+">")
	h("To", j.To)
	h("Subject", mime.QEncoding.Encode("utf-8", j.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+j.ID+"@offload>")
	h(HeaderJob, j.ID)
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	text := strings.ReplaceAll(j.Text, "\r\n", "\n")
	b.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}

type pooled struct {
	c    *smtp.Client
	conn net.Conn
}

var (
	errClosed    = errors.New("mailer closed")
	errAfterData = errors.New("message sent, answer lost")
)

func (m *Mailer) get(ctx context.Context, reuse bool) (*smtp.Client, net.Conn, bool, error) {
	m.mu.Lock()
	if m.done {
		m.mu.Unlock()
		return nil, nil, false, errClosed
	}
	if n := len(m.idle); n > 0 && reuse {
		p := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.mu.Unlock()
		return p.c, p.conn, true, nil
	}
	m.mu.Unlock()
	d := net.Dialer{Timeout: m.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return nil, nil, false, fmt.Errorf("connect to smtp %s: %w", m.cfg.Addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c := smtp.NewClient(conn)
	if err := c.Hello("offload"); err != nil {
		_ = c.Close()
		return nil, nil, false, fmt.Errorf("smtp greeting from %s: %w", m.cfg.Addr, err)
	}
	return c, conn, false, nil
}

func (m *Mailer) put(c *smtp.Client, conn net.Conn) {
	_ = conn.SetDeadline(time.Time{})
	m.mu.Lock()
	// Kept only with a concurrency: idle plus in use never exceed it, as
	// a send dials only when no idle connection is left.
	if !m.done && len(m.idle) < m.cfg.MaxConns {
		m.idle = append(m.idle, pooled{c: c, conn: conn})
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	_ = c.Quit()
}

// Close ends every idle session. Sends after Close fail; it is safe to call twice.
func (m *Mailer) Close() error {
	m.mu.Lock()
	idle := m.idle
	m.idle, m.done = nil, true
	m.mu.Unlock()
	for _, p := range idle {
		_ = p.c.Quit()
	}
	return nil
}
