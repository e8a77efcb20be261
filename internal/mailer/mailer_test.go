package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
)

func sink(t *testing.T, cfg mailsink.Config) *mailsink.Sink {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := mailsink.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newMailer(t *testing.T, addr string, conns int) *mailer.Mailer {
	t.Helper()
	m, err := mailer.New(mailer.Config{Addr: addr, MaxConns: conns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func mail(id string) job.Job {
	return job.Job{ID: id, To: "a@example.org", Subject: "hi", Text: "hello", Kind: job.KindIO}
}

// sendHeld starts n sends while the sink holds every message, waits until
// want of them are under way at the sink (no more can start), then
// releases the hold and waits for every send to succeed.
func sendHeld(t *testing.T, s *mailsink.Sink, m *mailer.Mailer, round string, n int, want int64) {
	t.Helper()
	release := s.Hold()
	defer release()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- m.Send(context.Background(), mail(fmt.Sprintf("%s-%d", round, i)))
		}()
	}
	ctx := context.Background()
	if !wait.Until(ctx, 10*time.Second, func() bool { return s.Stats().InFlight == want }) {
		t.Fatalf("%s: %d sends under way at the sink, want %d", round, s.Stats().InFlight, want)
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
	}
}

// With a concurrency of 3, ten sends at once never hold more than three
// connections, and a second round reuses them.
func TestConcurrencyCapsConnections(t *testing.T) {
	s := sink(t, mailsink.Config{})
	m := newMailer(t, s.Addr(), 3)
	sendHeld(t, s, m, "first", 10, 3)
	sendHeld(t, s, m, "second", 10, 3)
	st := s.Stats()
	if st.MaxConnsSeen != 3 || st.ConnsOpened != 3 || st.Unique != 20 {
		t.Fatalf("stats = %+v, want at most 3 connections, 3 opened in all, 20 mails", st)
	}
}

// Without a cap, every send has its own connection, ended after the mail.
func TestNoCapOpensAConnectionPerMail(t *testing.T) {
	s := sink(t, mailsink.Config{})
	m := newMailer(t, s.Addr(), 0)
	sendHeld(t, s, m, "burst", 10, 10)
	ctx := context.Background()
	if !wait.Until(ctx, 10*time.Second, func() bool { return s.Stats().Conns == 0 }) {
		t.Fatalf("%d connections still open after every send ended", s.Stats().Conns)
	}
	for i := range 3 {
		if err := m.Send(ctx, mail(fmt.Sprint("one-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.ConnsOpened != 13 || st.MaxConnsSeen != 10 {
		t.Fatalf("stats = %+v, want 13 connections for 13 mails, at most 10 at once", st)
	}
}

func TestThrottledIsTemporary(t *testing.T) {
	s := sink(t, mailsink.Config{RateLimit: 0.01, MaxConns: 1})
	m := newMailer(t, s.Addr(), 1)
	ctx := context.Background()
	if err := m.Send(ctx, mail("a")); err != nil {
		t.Fatal(err)
	}
	err := m.Send(ctx, mail("b"))
	var me *mailer.Error
	if !errors.As(err, &me) || me.Code != 454 || !mailer.IsThrottled(err) || !mailer.IsTemporary(err) {
		t.Fatalf("err = %#v, want a throttled, temporary 454", err)
	}
	// A second connection is beyond the provider's limit: 421.
	other := newMailer(t, s.Addr(), 1)
	err = other.Send(ctx, mail("c"))
	if !errors.As(err, &me) || me.Code != 421 || !mailer.IsThrottled(err) || !errors.Is(err, mailer.ErrTemporary) {
		t.Fatalf("err = %#v, want a throttled, temporary 421", err)
	}
	if _, err := mailer.New(mailer.Config{Addr: s.Addr(), MaxConns: -1}); err == nil {
		t.Fatal("a negative concurrency was accepted")
	}
}
