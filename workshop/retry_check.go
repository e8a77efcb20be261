package workshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/workshop/ex06"
)

// Send is one attempt at a job.
type Send func(ctx context.Context, j job.Job) error

// Retry builds a Perform from one-attempt send and a policy: exercise 6's
// code under check.
type Retry func(send Send, p ex06.Policy) Send

// ParticipantRetry is the participant's worker in workshop/ex06.
func ParticipantRetry() Retry {
	return func(send Send, p ex06.Policy) Send { return ex06.Worker{Send: send, Policy: p}.Perform }
}

const (
	retryOutage = 700 * time.Millisecond
	retryBase   = 20 * time.Millisecond
	retryMax    = 400 * time.Millisecond
)

// attempts records when each try of each job happened.
type attempts struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (a *attempts) wrap(send Send) Send {
	return func(ctx context.Context, j job.Job) error {
		a.mu.Lock()
		a.at[j.ID] = append(a.at[j.ID], time.Now())
		a.mu.Unlock()
		return send(ctx, j)
	}
}

func (a *attempts) gaps(id string) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := a.at[id]
	var g []time.Duration
	for i := 1; i < len(ts); i++ {
		g = append(g, ts[i].Sub(ts[i-1]))
	}
	return g
}

func (a *attempts) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at[id])
}

// CheckRetry is exercise 6: three jobs sent into a 700 ms mail outage are
// all delivered; the waits between tries double from Base up to Max
// (judged over many jobs, so jitter is fine); a permanent error is not
// retried; Attempts bounds the trying and ctx ends a wait at once.
func CheckRetry(ctx context.Context, o Options, retry Retry) (string, error) {
	o = o.withDefaults()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink, err := mailsink.Start(mailsink.Config{Logger: quiet})
	if err != nil {
		return "", err
	}
	defer sink.Close()
	m, err := mailer.New(mailer.Config{Addr: sink.Addr()})
	if err != nil {
		return "", err
	}
	defer m.Close()

	// Attempts is generous: full jitter may draw short waits, and a correct
	// answer must not run out of tries before the outage ends.
	rec := &attempts{at: map[string][]time.Time{}}
	perform := retry(rec.wrap(m.Send), ex06.Policy{Attempts: 40, Base: retryBase, Max: retryMax})
	sink.Outage(retryOutage)
	ids := []string{"ex6-a-" + job.NewID(), "ex6-b-" + job.NewID(), "ex6-c-" + job.NewID()}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			errs[i] = perform(jctx, job.Job{ID: id, To: "check@example.org", Subject: "exercise 6", Text: "hello", Kind: job.KindIO})
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			return "", hintf("in workshop/ex06/retry.go retry while mailer.IsTemporary(err), waiting Base, 2×Base, 4×Base ...",
				"job %s failed during the %s mail outage after %d attempt(s): %v", id, ms(retryOutage), rec.count(id), errs[i])
		}
		if _, ok := sink.Delivery(id); !ok {
			return "", fmt.Errorf("perform returned nil for job %s but the mail server never got it", id)
		}
	}
	g := rec.gaps(ids[0])
	fmt.Fprintf(o.Log, "job %s: %d attempts, waits %v\n", ids[0], rec.count(ids[0]), roundAll(g))
	if len(g) == 0 {
		return "", fmt.Errorf("job %s was delivered at its first try, during an outage", ids[0])
	}
	if err := checkSchedule(ctx, o, retry); err != nil {
		return "", err
	}
	if err := checkGivesUp(ctx, retry); err != nil {
		return "", err
	}
	return fmt.Sprintf("3 jobs sent into a %s outage all arrived; job %s tried %d times, waiting %v.\n"+
		"The waits double from Base to Max; permanent errors are not retried; Attempts and ctx bound the trying.\n"+
		"Now compare strategies with and without retries: offload bench --strategies fireforget,localipc --scenarios mail-outage --quick",
		ms(retryOutage), ids[0], rec.count(ids[0]), roundAll(g)), nil
}

// The schedule check: schedJobs jobs that always fail, schedAttempts tries
// each, all at once. Wait k (0-based) must stay under its envelope
// min(Max, Base·2^k), and the longest wait k of all the jobs must come
// within half of it. Full jitter (a wait drawn from [0, envelope)) passes:
// the chance that 32 draws all land in the lower half is 2^-32. A step
// (Base, then Max), a constant, linear or ×1.5 growth each break one bound.
const (
	schedJobs     = 32
	schedAttempts = 7
	schedBase     = 20 * time.Millisecond
	schedMax      = 320 * time.Millisecond // 16×Base: six waits reach it
	// schedSlack is what a busy machine may add to a timer; a wait counts as
	// too long only beyond 1.25×envelope + schedSlack, and only when a third
	// of the jobs' waits are, so one late timer fails nobody.
	schedSlack = 40 * time.Millisecond
)

// envelope is the longest wait k may be: min(Max, Base·2^k).
func envelope(k int, base, most time.Duration) time.Duration {
	e := base
	for i := 0; i < k && e < most; i++ {
		e *= 2
	}
	return min(e, most)
}

func checkSchedule(ctx context.Context, o Options, retry Retry) error {
	temporary := func(context.Context, job.Job) error {
		return &mailer.Error{JobID: "x", Temporary: true, Err: errors.New("451 try again later")}
	}
	rec := &attempts{at: map[string][]time.Time{}}
	perform := retry(rec.wrap(temporary), ex06.Policy{Attempts: schedAttempts, Base: schedBase, Max: schedMax})
	ids := make([]string, schedJobs)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = fmt.Sprintf("ex6-sched-%02d-%s", i, job.NewID())
		wg.Add(1)
		go func() {
			defer wg.Done()
			jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			_ = perform(jctx, job.Job{ID: ids[i], To: "check@example.org", Kind: job.KindIO})
		}()
	}
	wg.Wait()
	waits := make([][]time.Duration, schedAttempts-1) // waits[k]: wait k of every job
	for _, id := range ids {
		for k, d := range rec.gaps(id) {
			if k < len(waits) {
				waits[k] = append(waits[k], d)
			}
		}
	}
	policy := fmt.Sprintf("Policy{Attempts: %d, Base: %v, Max: %v}", schedAttempts, schedBase, schedMax)
	for k, ws := range waits {
		e := envelope(k, schedBase, schedMax)
		if len(ws) < schedJobs {
			return hintf("keep trying a temporary error until Policy.Attempts tries were made",
				"with %s only %d of %d jobs that always fail made a try number %d", policy, len(ws), schedJobs, k+2)
		}
		var longest time.Duration
		over := 0
		for _, d := range ws {
			longest = max(longest, d)
			if d > e+e/4+schedSlack {
				over++
			}
		}
		fmt.Fprintf(o.Log, "wait %d: envelope %v, longest of %d jobs %v, %d over\n", k+1, e, len(ws), longest.Round(time.Millisecond), over)
		if over*3 > len(ws) {
			return hintf("wait Base before the second try, then double the wait each time, capped at Max",
				"with %s wait number %d should be at most min(Max, Base·2^%d) = %v, but %d of %d jobs waited longer (up to %v)",
				policy, k+1, k, e, over, len(ws), longest.Round(time.Millisecond))
		}
		if longest < e/2 {
			return hintf("double the wait after each failed try (up to Policy.Max)",
				"with %s wait number %d should reach min(Max, Base·2^%d) = %v, but the longest of %d jobs was %v: the waits do not double",
				policy, k+1, k, e, len(ws), longest.Round(time.Millisecond))
		}
	}
	return nil
}

// checkGivesUp: a permanent error is tried once; Attempts and ctx end the trying.
func checkGivesUp(ctx context.Context, retry Retry) error {
	temporary := func(context.Context, job.Job) error {
		return &mailer.Error{JobID: "x", Temporary: true, Err: errors.New("451 try again later")}
	}
	permanent := func(context.Context, job.Job) error {
		return &mailer.Error{JobID: "x", Temporary: false, Err: errors.New("550 no such user")}
	}
	j := job.Job{ID: "ex6-" + job.NewID(), To: "check@example.org", Kind: job.KindIO}

	rec := &attempts{at: map[string][]time.Time{}}
	if err := retry(rec.wrap(permanent), ex06.Policy{Attempts: 5, Base: time.Millisecond, Max: time.Millisecond})(ctx, j); err == nil {
		return hintf("return the last error", "Perform returned nil although every try failed")
	}
	if n := rec.count(j.ID); n != 1 {
		return hintf("retry only when mailer.IsTemporary(err)", "a permanent error (550 no such user) was tried %d times; it will not get better", n)
	}
	rec = &attempts{at: map[string][]time.Time{}}
	_ = retry(rec.wrap(temporary), ex06.Policy{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond})(ctx, j)
	if n := rec.count(j.ID); n != 3 {
		return hintf("stop after Policy.Attempts tries, the first included", "with Attempts 3 a job that always fails was tried %d times", n)
	}
	return checkCtxBound(ctx, retry, temporary, j)
}

// The ctx check: a 100 ms context against a 5 s wait. Perform must return
// within ctxSlack of the deadline, so only a wait that watches ctx.Done()
// passes; a bare time.Sleep sleeps the 5 s through.
const (
	ctxDeadline = 100 * time.Millisecond
	ctxWait     = 5 * time.Second
	ctxSlack    = 400 * time.Millisecond
)

func checkCtxBound(ctx context.Context, retry Retry, send Send, j job.Job) error {
	cctx, cancel := context.WithTimeout(ctx, ctxDeadline)
	defer cancel()
	t0 := time.Now()
	done := make(chan error, 1) // buffered: a Perform that sleeps on finishes later, unobserved
	go func() {
		done <- retry(send, ex06.Policy{Attempts: 3, Base: ctxWait, Max: ctxWait})(cctx, j)
	}()
	try := "wait with select { case <-ctx.Done(): return ...; case <-timer.C: }, never a bare time.Sleep"
	select {
	case err := <-done:
		took := time.Since(t0)
		if err == nil {
			return hintf("return an error (wrapping ctx.Err()) when ctx is done", "with a %v context Perform returned nil although no try succeeded", ctxDeadline)
		}
		if took > ctxDeadline+ctxSlack {
			return hintf(try, "with a %v context and a %v wait, Perform returned after %v; it must give up when ctx is done", ctxDeadline, ctxWait, took.Round(time.Millisecond))
		}
		return nil
	case <-time.After(ctxDeadline + ctxSlack):
		return hintf(try, "with a %v context and a %v wait, Perform had not returned %v later: it sleeps through a cancelled context", ctxDeadline, ctxWait, ctxSlack)
	}
}

func roundAll(g []time.Duration) []time.Duration {
	out := make([]time.Duration, len(g))
	for i, d := range g {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
