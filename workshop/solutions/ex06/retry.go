// Package ex06 is the reference solution of exercise 6. Spoilers: try
// workshop/ex06 first. The workshop tests run the check against it.
package ex06

import (
	"context"
	"fmt"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/workshop/ex06"
)

// Worker is ex06.Worker with retries.
type Worker ex06.Worker

// Perform tries, then waits Base, 2×Base, 4×Base ... (each at most Max)
// between tries of a temporary failure.
func (w Worker) Perform(ctx context.Context, j job.Job) error {
	wait := w.Policy.Base
	var err error
	for attempt := 1; ; attempt++ {
		if err = w.Send(ctx, j); err == nil || !mailer.IsTemporary(err) {
			return err
		}
		if attempt >= w.Policy.Attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("stopped retrying: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, w.Policy.Max)
	}
}
