package workshop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/workshop/ex05"
)

// NewStrategy builds a strategy, as the catalog entry's New does.
type NewStrategy func(strategies.Config) (strategies.Strategy, error)

// ParticipantCapture is the participant's fireforget copy in workshop/ex05.
func ParticipantCapture() NewStrategy { return ex05.New }

// captureUnderLoad sends jobs into the outage while others ask for their
// state, so the loop records failures while State reads them off the loop: the
// moment a map without a mutex breaks, and the race detector sees it.
func captureUnderLoad(ctx context.Context, addr, mail string) error {
	const jobs, askers = 40, 4
	ids := make([]string, jobs)
	for i := range ids {
		ids[i] = fmt.Sprintf("ex5-load-%02d-%s", i, job.NewID())
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	failed := make([]atomic.Bool, jobs)
	for a := range askers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				left := 0
				for i := a; i < jobs; i += askers {
					if failed[i].Load() {
						continue
					}
					left++
					var st strategies.JobState
					if c, err := getJSON(ctx, "http://"+addr+"/jobs/"+ids[i], &st); err == nil && c == http.StatusOK && st.Status == strategies.StatusFailed {
						failed[i].Store(true)
					}
				}
				if left == 0 {
					return
				}
			}
		}()
	}
	for _, id := range ids {
		if code, body, err := postJob(ctx, addr, mail, id); err != nil || code != http.StatusAccepted {
			cancel()
			wg.Wait()
			return fmt.Errorf("POST /jobs during the outage answered %d %v (%v), want 202", code, body, err)
		}
	}
	wg.Wait()
	n := 0
	for i := range failed {
		if failed[i].Load() {
			n++
		}
	}
	if n < jobs {
		return hintf("record every failure, also when many arrive at once (the loop records them while State answers off the loop)",
			"of %d jobs sent into the outage while their states were being asked for, GET /jobs/{id} said failed for %d within 10 s", jobs, n)
	}
	return nil
}

// postJob submits body under key and decodes the answer.
func postJob(ctx context.Context, addr, body, key string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/jobs", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post job: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, nil
}

// CheckCaptureRace is exercise 5 as `offload exercise check 5` runs it:
// CheckCapture on the participant's workshop/ex05, inside `go test -race`,
// so that a failure record two goroutines share without a lock fails the
// check even when the answers happened to come out right.
func CheckCaptureRace(ctx context.Context, o Options) (string, error) {
	o = o.withDefaults()
	const pkg = "./workshop/ex05"
	res, err := runGoTest(ctx, o, goTestRun{what: "exercise 5", pkg: pkg, test: "TestCheck", race: true,
		env: []string{"OFFLOAD_EXERCISE=5"}, limit: 10 * time.Minute})
	if err != nil {
		return "", err
	}
	if race := res.raceReport(14); race != "" {
		return "", hintf("guard the failures with a sync.Mutex: recordFailure runs on the loop, State off it (GET /jobs/{id} reads on the I/O path)",
			"the race detector caught two goroutines touching the same memory without a lock:\n%s", race)
	}
	if res.buildFailed() {
		return "", hintf("fix the compile errors above", "%s does not build:\n%s", pkg, failureLines(res.output, 12))
	}
	v := res.verdict
	switch {
	case v == nil:
		return "", fmt.Errorf("go test -race %s ended without a verdict:\n%s", pkg, failureLines(res.output, 20))
	case v.Error != "":
		return "", errors.New(v.Error)
	case !v.Pass:
		return "", &Hint{Problem: v.Problem, Try: v.Try}
	case res.failed:
		return "", fmt.Errorf("go test -race %s failed after the check passed:\n%s", pkg, failureLines(res.output, 20))
	}
	return v.Message + "\n(checked under the race detector: go test -race)", nil
}

// CheckCapture is exercise 5: after a mail outage, GET /jobs/{id} of a job
// that failed answers 200 "failed" with the error, while a delivered job is
// not reported failed and an unknown one is still 404.
func CheckCapture(ctx context.Context, o Options, newStrategy NewStrategy) (string, error) {
	o = o.withDefaults()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sink, err := mailsink.Start(mailsink.Config{Logger: quiet})
	if err != nil {
		return "", err
	}
	defer sink.Close()
	strat, err := newStrategy(strategies.Config{SMTPAddr: sink.Addr(), Logger: quiet})
	if err != nil {
		return "", fmt.Errorf("New: %w", err)
	}
	srv, err := serveInProcess(strat)
	if err != nil {
		return "", err
	}
	defer srv.Close()

	okID, failID := "ex5-ok-"+job.NewID(), "ex5-fail-"+job.NewID()
	mail := `{"to":"check@example.org","subject":"exercise 5","text":"hello"}`
	if code, body, err := postJob(ctx, srv.Addr, mail, okID); err != nil || code != http.StatusAccepted {
		return "", hintf("keep Submit's reply(...StatusAccepted) first", "POST /jobs answered %d %v (%v), want 202", code, body, err)
	}
	if !wait.Until(ctx, 5*time.Second, func() bool { _, ok := sink.Delivery(okID); return ok }) {
		return "", hintf("keep Submit sending the mail through rt.IO", "a job sent while the mail server was up was not delivered within 5 s")
	}
	sink.Outage(time.Minute)
	if code, body, err := postJob(ctx, srv.Addr, mail, failID); err != nil || code != http.StatusAccepted {
		return "", fmt.Errorf("POST /jobs during the outage answered %d %v (%v), want 202: fireforget accepts before it knows", code, body, err)
	}
	fmt.Fprintf(o.Log, "sent job %s into a mail outage; asking GET /jobs/%s\n", failID, failID)
	var st strategies.JobState
	var code int
	wait.Until(ctx, 3*time.Second, func() bool {
		st = strategies.JobState{}
		code, err = getJSON(ctx, "http://"+srv.Addr+"/jobs/"+failID, &st)
		return err == nil && code == http.StatusOK && st.Status == strategies.StatusFailed
	})
	if err != nil {
		return "", fmt.Errorf("GET /jobs/%s: %w", failID, err)
	}
	if code != http.StatusOK || st.Status != strategies.StatusFailed {
		var why map[string]any
		_, _ = getJSON(ctx, "http://"+srv.Addr+"/jobs/"+failID, &why)
		return "", hintf("in workshop/ex05/capture.go keep the failure in recordFailure and answer it from State",
			"the mail server answered 451 to job %s, but GET /jobs/%s still answers %d %v: the failure was only logged", failID, failID, code, why)
	}
	if st.Error == "" || st.ID != failID {
		return "", hintf("set ID and Error (err.Error()) in the JobState", "GET /jobs/%s answered failed without the job's id or error: %+v", failID, st)
	}
	var okState strategies.JobState
	if c, _ := getJSON(ctx, "http://"+srv.Addr+"/jobs/"+okID, &okState); c == http.StatusOK && okState.Status == strategies.StatusFailed {
		return "", hintf("record only the jobs whose Send returned an error", "job %s was delivered, yet GET /jobs/%s says failed", okID, okID)
	}
	if c, _ := getJSON(ctx, "http://"+srv.Addr+"/jobs/"+job.NewID(), nil); c != http.StatusNotFound {
		return "", hintf("return an error wrapping strategies.ErrNotTracked for ids you have no record of", "GET /jobs/<unknown id> answered %d, want 404", c)
	}
	if err := captureUnderLoad(ctx, srv.Addr, mail); err != nil {
		return "", err
	}
	return fmt.Sprintf("GET /jobs/%s answers %q: %s\n"+
		"The client that got 202 can now find out. What this still cannot do: keep the record across a restart, or try again (exercise 6).",
		failID, st.Status, st.Error), nil
}
