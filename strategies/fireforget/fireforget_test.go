package fireforget_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/fireforget"
	"github.com/offload/offload/strategies/strategytest"
)

func start(t *testing.T, loop string, sinkCfg mailsink.Config) strategytest.Setup {
	sink := itest.Sink(t, sinkCfg)
	s, err := fireforget.New(strategies.Config{SMTPAddr: sink.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	return strategytest.Setup{URL: strategytest.Serve(t, s, loop), Sink: sink}
}

func TestConformance(t *testing.T) {
	for _, loop := range []string{"node", "go", "threads"} {
		t.Run(loop, func(t *testing.T) {
			strategytest.Exercise(t, func(t *testing.T) strategytest.Setup { return start(t, loop, mailsink.Config{}) })
		})
	}
}

func TestAnswersBeforeDelivery(t *testing.T) {
	s := start(t, "node", mailsink.Config{Delay: 300 * time.Millisecond})
	r := strategytest.Post(t, s.URL, strategytest.MailJSON("async"), "")
	if r.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", r.Code)
	}
	id := r.Body["id"].(string)
	if _, ok := s.Sink.Delivery(id); ok {
		t.Fatal("the mail was delivered before the 202: fire-and-forget must not wait")
	}
	strategytest.WaitDelivered(t, s.Sink, []string{id}, 10*time.Second)
	st := strategytest.Get(t, s.URL, "/jobs/"+id)
	if st.Code != http.StatusNotFound {
		t.Fatalf("GET /jobs/%s = %d, want 404: fireforget cannot know", id, st.Code)
	}
}

// Ignoring the callback moves no CPU off the loop: the cpu job runs on the
// loop after the 202 and the next client waits for it.
func TestCPUJobStillBlocksTheNextClient(t *testing.T) {
	s := start(t, "node", mailsink.Config{})
	t0 := time.Now()
	r := strategytest.Post(t, s.URL, `{"to":"a@example.org","kind":"cpu","cost_ms":300}`, "")
	answered := time.Since(t0)
	if r.Code != http.StatusAccepted || answered > 250*time.Millisecond {
		t.Fatalf("cpu job answered %d after %v; want a 202 before the work", r.Code, answered)
	}
	t1 := time.Now()
	strategytest.Get(t, s.URL, "/healthz")
	if waited := time.Since(t1) + answered; waited < 250*time.Millisecond {
		t.Fatalf("the next client got its answer %v after the cpu job was submitted; want it to wait for the loop", waited)
	}
}
