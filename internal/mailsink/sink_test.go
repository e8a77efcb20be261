package mailsink_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
)

func start(t *testing.T, cfg mailsink.Config) (*mailsink.Sink, *mailer.Mailer) {
	t.Helper()
	s, err := mailsink.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m, err := mailer.New(mailer.Config{Addr: s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return s, m
}

func mail(id string) job.Job {
	return job.Job{ID: id, To: "a@example.org", Subject: "hi", Text: "line one\n.\nline three", Kind: job.KindIO}
}

func TestRecordsDeliveriesAndDuplicates(t *testing.T) {
	s, m := start(t, mailsink.Config{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "a"} {
		if err := m.Send(ctx, mail(id)); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
	}
	st := s.Stats()
	if st.Received != 3 || st.Unique != 2 || st.Duplicates != 1 {
		t.Fatalf("stats = %+v, want received 3, unique 2, duplicates 1", st)
	}
	d, ok := s.Delivery("a")
	if !ok || d.Count != 2 {
		t.Fatalf("delivery a = %+v, %v; want count 2", d, ok)
	}
	if got := s.Deliveries(); len(got) != 2 || got[0].ID != "a" {
		t.Fatalf("deliveries = %+v", got)
	}
}

func TestFailuresAreTemporary(t *testing.T) {
	tests := []struct {
		name  string
		cfg   mailsink.Config
		setup func(*mailsink.Sink)
	}{
		{name: "fail rate 1", cfg: mailsink.Config{FailRate: 1}},
		{name: "outage", setup: func(s *mailsink.Sink) { s.Outage(time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := start(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(s)
			}
			err := m.Send(context.Background(), mail("x"))
			if err == nil || !mailer.IsTemporary(err) {
				t.Fatalf("err = %v, want a temporary failure", err)
			}
			if st := s.Stats(); st.Received != 0 || st.Rejected != 1 {
				t.Fatalf("stats = %+v, want 0 received, 1 rejected", st)
			}
			// The session survives a 451: the next mail goes through once healthy.
			s.Outage(0)
			if tt.cfg.FailRate == 0 {
				if err := m.Send(context.Background(), mail("y")); err != nil {
					t.Fatalf("send after outage: %v", err)
				}
			}
		})
	}
}

func TestInvalidConfig(t *testing.T) {
	if _, err := mailsink.Start(mailsink.Config{FailRate: 2}); err == nil {
		t.Fatal("fail rate 2 accepted")
	}
}

func TestSubscribe(t *testing.T) {
	s, m := start(t, mailsink.Config{})
	ch := make(chan mailsink.Delivery, 4)
	s.Subscribe(ch)
	if err := m.Send(context.Background(), mail("z")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ch:
		if d.ID != "z" || d.Count != 1 {
			t.Fatalf("got %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery event")
	}
}

func BenchmarkSend(b *testing.B) {
	s, err := mailsink.Start(mailsink.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, _ := mailer.New(mailer.Config{Addr: s.Addr()})
	defer m.Close()
	for i := 0; b.Loop(); i++ {
		if err := m.Send(context.Background(), mail("b")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}

func TestInFlightCountsMessagesUnderWay(t *testing.T) {
	s, m := start(t, mailsink.Config{Delay: 300 * time.Millisecond})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- m.Send(ctx, mail("slow")) }()
	if !wait.Until(ctx, 5*time.Second, func() bool { return s.Stats().InFlight == 1 }) {
		t.Fatalf("in flight = %d while a message was being accepted, want 1", s.Stats().InFlight)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().InFlight; got != 0 {
		t.Fatalf("in flight = %d after the message was accepted, want 0", got)
	}
}

// A second address feeds the same record, and stops on its own.
func TestListenAlso(t *testing.T) {
	s, m := start(t, mailsink.Config{})
	ctx := context.Background()
	addr, stop, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if addr == s.Addr() {
		t.Fatalf("Listen gave the sink's own address %s", addr)
	}
	other, err := mailer.New(mailer.Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Send(ctx, mail("x")); err != nil {
		t.Fatalf("send through %s: %v", addr, err)
	}
	if err := m.Send(ctx, mail("x")); err != nil {
		t.Fatalf("send through %s: %v", s.Addr(), err)
	}
	if d, ok := s.Delivery("x"); !ok || d.Count != 2 {
		t.Fatalf("delivery x = %+v, %v; want count 2 (one through each address)", d, ok)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after stop", addr)
	}
	if err := m.Send(ctx, mail("y")); err != nil {
		t.Fatalf("the sink's own address after stop: %v", err)
	}
}
