package ex08

import (
	"testing"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/strategytest"
)

// TestConformance is the same test as workshop/ex08's, against the solution.
func TestConformance(t *testing.T) {
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		sink := itest.Sink(t, mailsink.Config{})
		s, err := New(strategies.Config{SMTPAddr: sink.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		return strategytest.Setup{URL: strategytest.Serve(t, s, "node"), Sink: sink}
	})
}
