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
// all delivered, with waits that grow exponentially and stay under Max; a
// permanent error is not retried; Attempts and ctx bound the trying.
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

	rec := &attempts{at: map[string][]time.Time{}}
	perform := retry(rec.wrap(m.Send), ex06.Policy{Attempts: 12, Base: retryBase, Max: retryMax})
	sink.Outage(retryOutage)
	ids := []string{"ex6-a-" + job.NewID(), "ex6-b-" + job.NewID(), "ex6-c-" + job.NewID()}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
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
	fmt.Fprintf(o.Log, "job %s: %d attempts, waits %v\n", ids[0], rec.count(ids[0]), g)
	var longest time.Duration
	for _, d := range g {
		longest = max(longest, d)
	}
	if len(g) == 0 || g[0] > 3*retryBase {
		return "", hintf("wait Policy.Base before the second try", "the first wait was %v; Policy.Base is %v", firstOr(g), retryBase)
	}
	if longest < 10*retryBase {
		return "", hintf("double the wait after each failed try (up to Policy.Max)",
			"the waits %v never grew past %v: that is not exponential (Base %v; 10×Base is where doubling gets to within this outage)", g, longest, retryBase)
	}
	if longest > retryMax+150*time.Millisecond {
		return "", hintf("cap each wait at Policy.Max", "a wait of %v is longer than Policy.Max %v", longest, retryMax)
	}
	if err := checkGivesUp(ctx, retry); err != nil {
		return "", err
	}
	return fmt.Sprintf("3 jobs sent into a %s outage all arrived; job %s tried %d times, waiting %v.\n"+
		"Permanent errors are not retried; Attempts and ctx bound the trying.\n"+
		"Now compare strategies with and without retries: offload bench --strategies fireforget,localipc --scenarios mail-outage --quick",
		ms(retryOutage), ids[0], rec.count(ids[0]), roundAll(g)), nil
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
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := retry(temporary, ex06.Policy{Attempts: 100, Base: 50 * time.Millisecond, Max: 5 * time.Second})(cctx, j)
	if took := time.Since(t0); err == nil || took > time.Second {
		return hintf("wait with select { case <-ctx.Done(): ...; case <-timer.C: }", "with a 200 ms context Perform returned %v after %v; it must give up when ctx is done", err, took.Round(time.Millisecond))
	}
	return nil
}

func firstOr(g []time.Duration) time.Duration {
	if len(g) == 0 {
		return 0
	}
	return g[0]
}

func roundAll(g []time.Duration) []time.Duration {
	out := make([]time.Duration, len(g))
	for i, d := range g {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
