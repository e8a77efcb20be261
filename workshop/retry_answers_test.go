package workshop_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/workshop"
	"github.com/offload/offload/workshop/ex06"
)

// Answers to exercise 6 that a participant could plausibly write: each is
// a loop of tries whose wait before try k+2 is wait(k, policy), slept by
// sleep. The check must fail the wrong ones and pass every correct one,
// jitter included.

type waitFunc func(k int, p ex06.Policy) time.Duration

func retryAnswer(wait waitFunc, sleep func(ctx context.Context, d time.Duration) error) workshop.Retry {
	return func(send workshop.Send, p ex06.Policy) workshop.Send {
		return func(ctx context.Context, j job.Job) error {
			var err error
			for k := 0; ; k++ {
				if err = send(ctx, j); err == nil || !mailer.IsTemporary(err) {
					return err
				}
				if k+1 >= p.Attempts {
					return err
				}
				if serr := sleep(ctx, wait(k, p)); serr != nil {
					return fmt.Errorf("%w (last error: %w)", serr, err)
				}
			}
		}
	}
}

// doubling is min(Max, Base·2^k): the intended schedule.
func doubling(k int, p ex06.Policy) time.Duration {
	d := p.Base
	for i := 0; i < k && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

func selectSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func bareSleep(ctx context.Context, d time.Duration) error {
	time.Sleep(d)
	return ctx.Err()
}

var (
	// Right answers.
	fullJitter = retryAnswer(func(k int, p ex06.Policy) time.Duration {
		return rand.N(doubling(k, p) + 1)
	}, selectSleep)
	equalJitter = retryAnswer(func(k int, p ex06.Policy) time.Duration {
		d := doubling(k, p)
		return d/2 + rand.N(d/2+1)
	}, selectSleep)

	// Wrong answers.
	stepWait = retryAnswer(func(k int, p ex06.Policy) time.Duration { // Base once, then Max
		if k == 0 {
			return p.Base
		}
		return p.Max
	}, selectSleep)
	linearWait = retryAnswer(func(k int, p ex06.Policy) time.Duration {
		return min(time.Duration(k+1)*p.Base, p.Max)
	}, selectSleep)
	constantWait  = retryAnswer(func(k int, p ex06.Policy) time.Duration { return p.Base }, selectSleep)
	sleepsThrough = retryAnswer(doubling, bareSleep) // right waits, deaf to ctx
)
