package sample_test

import (
	"testing"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/catalog/internal/sample"
	"github.com/offload/offload/strategies/strategytest"
)

// The test-only strategy is held to the same behaviour as the six.
func TestConformance(t *testing.T) {
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		sink := itest.Sink(t, mailsink.Config{})
		s, err := sample.New(strategies.Config{SMTPAddr: sink.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		return strategytest.Setup{URL: strategytest.Serve(t, s, "node"), Sink: sink}
	})
}
