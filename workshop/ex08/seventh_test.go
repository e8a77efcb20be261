package ex08

import (
	"os"
	"testing"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/strategytest"
)

// TestConformance is what `make exercise N=8` runs. It is skipped in a
// plain `go test ./...`, because the skeleton is meant to fail it.
func TestConformance(t *testing.T) {
	if os.Getenv("OFFLOAD_EXERCISE") != "8" {
		t.Skip("exercise 8's skeleton: run `make exercise N=8` to check it")
	}
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		sink := itest.Sink(t, mailsink.Config{})
		s, err := New(strategies.Config{SMTPAddr: sink.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		// If your jobs run in `offload work` processes, start one here with
		// itest.Start(t, "worker", "work", "--strategy", "seventh", ...).
		return strategytest.Setup{URL: strategytest.Serve(t, s, "node"), Sink: sink}
	})
}
