package harness

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/results"
)

// bareTarget is a user's own server: it answers 202 to every job and sends
// its mail wherever mailTo says ("" : somewhere else entirely).
type bareTarget struct {
	mailTo string
	warmup atomic.Int64 // warm-up jobs received
	wg     sync.WaitGroup
}

func (s *bareTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/jobs" {
		w.WriteHeader(http.StatusOK)
		return
	}
	id := r.Header.Get("Idempotency-Key")
	if strings.HasPrefix(id, "w") {
		s.warmup.Add(1)
	}
	w.WriteHeader(http.StatusAccepted)
	if s.mailTo == "" {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		msg := "X-Offload-Job: " + id + "\r\nSubject: bench\r\n\r\nhello\r\n"
		_ = smtp.SendMail(s.mailTo, nil, "app@example.org", []string{"bench@example.org"}, []byte(msg))
	}()
}

// TestTargetTellsTheTruth measures a bare target server: when it mails
// elsewhere the run says so and reports no loss; when its mail goes to the
// bench's sink, deliveries are accounted. The warm-up never sends for
// longer than asked.
func TestTargetTellsTheTruth(t *testing.T) {
	for _, delivers := range []bool{false, true} {
		t.Run(fmt.Sprintf("delivers=%v", delivers), func(t *testing.T) {
			sink, err := mailsink.Start(mailsink.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			target := &bareTarget{}
			if delivers {
				target.mailTo = sink.Addr()
			}
			srv := httptest.NewServer(target)
			defer srv.Close()
			defer target.wg.Wait()

			timing := Quick()
			timing.Rate, timing.Warmup, timing.Measure, timing.Drain, timing.HeySteady = 50, 200*time.Millisecond, 600*time.Millisecond, time.Second, 0
			b := &Bench{Out: t.TempDir(), Sink: sink, Target: srv.URL, Timing: timing}
			plans, err := b.Plans([]string{"external"}, []string{Steady}, true)
			if err != nil {
				t.Fatal(err)
			}
			f, err := b.Run(context.Background(), results.Env{}, plans)
			if err != nil {
				t.Fatal(err)
			}
			r := f.Runs[0]
			// The warm-up is the load for the asked warm-up: 50/s for 200ms.
			if n := target.warmup.Load(); n > 11 {
				t.Errorf("the warm-up sent %d jobs, want at most 10 (50/s for 200ms)", n)
			}
			if r.Accepted == 0 || r.Accepted != r.Sent {
				t.Fatalf("accepted %d of %d", r.Accepted, r.Sent)
			}
			if r.Lost != 0 {
				t.Errorf("lost %d: a target that answered every job lost none the bench can know of", r.Lost)
			}
			if delivers {
				if r.DeliveryNA != "" || r.Delivered != r.Accepted {
					t.Errorf("delivered %d of %d (delivery n/a %q): its mail reached the sink", r.Delivered, r.Accepted, r.DeliveryNA)
				}
				return
			}
			if !strings.Contains(r.DeliveryNA, "does not deliver to this bench's sink (smtp://"+sink.Addr()+")") {
				t.Errorf("delivery n/a %q: must say the target does not deliver here, and where here is", r.DeliveryNA)
			}
			if r.Delivered != 0 || r.E2ELatencyMS.Count != 0 {
				t.Errorf("delivered %d e2e count %d, want none", r.Delivered, r.E2ELatencyMS.Count)
			}
		})
	}
}
