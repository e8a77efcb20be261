package mailsink_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
)

func TestParseLatency(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		in   string
		want mailsink.Latency
		err  bool
	}{
		{in: "10ms", want: mailsink.Latency{Median: 10 * ms}},
		{in: "3ms+10ms", want: mailsink.DefaultLatency},
		{in: "lognormal:8ms,60ms", want: mailsink.Latency{Median: 8 * ms, P99: 60 * ms}},
		{in: "3ms+lognormal:8ms,60ms", want: mailsink.Latency{RTT: 3 * ms, Median: 8 * ms, P99: 60 * ms}},
		{in: "0s", want: mailsink.Latency{}},
		{in: "lognormal:60ms,8ms", err: true},
		{in: "lognormal:8ms", err: true},
		{in: "-1ms", err: true},
		{in: "fast", err: true},
		{in: "x+10ms", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := mailsink.ParseLatency(tt.in)
			if tt.err {
				if err == nil {
					t.Fatalf("ParseLatency(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLatency(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			back, err := mailsink.ParseLatency(got.String())
			if err != nil || back != got {
				t.Fatalf("String %q does not read back: %v, %v", got.String(), back, err)
			}
		})
	}
}

// The lognormal draw is checked on the delays it computes, not on the
// wall clock: the same seed gives the same delays, and their median and
// p99 land near the ones asked for.
func TestLognormalIsSeededAndShaped(t *testing.T) {
	l := mailsink.Latency{Median: 8 * time.Millisecond, P99: 60 * time.Millisecond}
	draw := func(seed uint64, n int) []time.Duration {
		r := rand.New(rand.NewPCG(seed, 7))
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = l.Sample(r)
		}
		return out
	}
	a, b := draw(42, 20000), draw(42, 20000)
	if !slices.Equal(a, b) {
		t.Fatal("two draws with the same seed differ")
	}
	if slices.Equal(a[:100], draw(43, 100)) {
		t.Fatal("two seeds gave the same delays")
	}
	slices.Sort(a)
	near := func(name string, got, want time.Duration, tol float64) {
		t.Helper()
		if r := float64(got) / float64(want); r < 1-tol || r > 1+tol {
			t.Errorf("%s = %v, want %v within %.0f%%", name, got, want, tol*100)
		}
	}
	near("median", a[len(a)/2], l.Median, 0.05)
	near("p99", a[len(a)*99/100], l.P99, 0.10)
	fixed := mailsink.Latency{Median: 10 * time.Millisecond}
	if d := fixed.Sample(rand.New(rand.NewPCG(1, 1))); d != 10*time.Millisecond {
		t.Errorf("fixed latency sampled %v", d)
	}
}

func TestRateLimitAnswers454(t *testing.T) {
	// A hundredth of a mail per second: the bucket's one token does not
	// come back within the test, so the second mail must be throttled.
	s, m := start(t, mailsink.Config{RateLimit: 0.01})
	ctx := context.Background()
	if err := m.Send(ctx, mail("first")); err != nil {
		t.Fatalf("first mail within the limit: %v", err)
	}
	err := m.Send(ctx, mail("second"))
	if err == nil || !mailer.IsTemporary(err) || !strings.Contains(err.Error(), "454") ||
		!strings.Contains(err.Error(), mailsink.ThrottleMessage) {
		t.Fatalf("second mail: err = %v, want a temporary 454 %q", err, mailsink.ThrottleMessage)
	}
	st := s.Stats()
	if st.Throttled != 1 || st.Received != 1 || st.RateLimit != 0.01 {
		t.Fatalf("stats = %+v, want 1 throttled, 1 received, rate limit 0.01", st)
	}
	// Lifted at run time, the same session delivers again.
	if err := s.SetRateLimit(0); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ctx, mail("second")); err != nil {
		t.Fatalf("after lifting the limit: %v", err)
	}
	if err := s.SetRateLimit(-1); err == nil {
		t.Fatal("a negative rate limit was accepted")
	}
}

// greeting dials the sink and reads its first line.
func greeting(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	return c, line
}

func TestConnectionLimitAnswers421(t *testing.T) {
	s, m := start(t, mailsink.Config{MaxConns: 1})
	first, line := greeting(t, s.Addr())
	if !strings.HasPrefix(line, "220") {
		t.Fatalf("first connection got %q, want the 220 greeting", line)
	}
	if _, line := greeting(t, s.Addr()); !strings.HasPrefix(line, "421") {
		t.Fatalf("second connection got %q, want 421", line)
	}
	err := m.Send(context.Background(), mail("over"))
	if err == nil || !mailer.IsTemporary(err) || !strings.Contains(err.Error(), "421") {
		t.Fatalf("send beyond the connection limit: err = %v, want a temporary 421", err)
	}
	st := s.Stats()
	if st.ConnsRefused != 2 || st.Throttled != 2 || st.MaxConnsSeen != 1 {
		t.Fatalf("stats = %+v, want 2 refused, 2 throttled, at most 1 connection seen", st)
	}
	// Once the first connection goes, its slot is free again.
	_ = first.Close()
	ctx := context.Background()
	if !wait.Until(ctx, 5*time.Second, func() bool { return s.Stats().Conns == 0 }) {
		t.Fatalf("conns = %d after the only connection closed", s.Stats().Conns)
	}
	if err := m.Send(ctx, mail("under")); err != nil {
		t.Fatalf("send after the slot was freed: %v", err)
	}
}

func TestRateLimitOverHTTP(t *testing.T) {
	s, _ := start(t, mailsink.Config{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	post := func(q string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/rate-limit?per_second=50"); code != http.StatusOK || s.RateLimit() != 50 {
		t.Fatalf("set: status %d, limit %v; want 200 and 50", code, s.RateLimit())
	}
	if code := post("/rate-limit?per_second=-3"); code != http.StatusBadRequest || s.RateLimit() != 50 {
		t.Fatalf("negative: status %d, limit %v; want 400 and the limit kept", code, s.RateLimit())
	}
	if code := post("/rate-limit?per_second=0"); code != http.StatusOK || s.RateLimit() != 0 {
		t.Fatalf("lift: status %d, limit %v", code, s.RateLimit())
	}
	if code := post("/max-conns?n=x"); code != http.StatusBadRequest {
		t.Fatalf("max-conns x: status %d, want 400", code)
	}
}
