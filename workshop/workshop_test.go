package workshop_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/results"
	"github.com/offload/offload/workshop"
	"github.com/offload/offload/workshop/ex06"
	sol03 "github.com/offload/offload/workshop/solutions/ex03"
	sol05 "github.com/offload/offload/workshop/solutions/ex05"
	sol06 "github.com/offload/offload/workshop/solutions/ex06"
)

// Every check must pass on the reference solution and fail, with the hint
// the exercise intends, on the skeleton as handed out.

func wantPass(t *testing.T, msg string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("check failed on the reference solution: %v", err)
	}
	t.Logf("PASS\n%s", msg)
}

func wantHint(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("check passed; want a hint containing %q", want)
	}
	if !workshop.IsHint(err) {
		t.Fatalf("check failed without a hint: %v", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("hint %q does not say %q", err, want)
	}
	t.Logf("NOT YET\n%v", err)
}

func TestEveryExerciseHasADoc(t *testing.T) {
	for _, e := range workshop.Exercises() {
		if _, err := os.Stat(filepath.Join("..", "docs", "workshop", e.Doc)); err != nil {
			t.Errorf("exercise %d: %v", e.N, err)
		}
	}
	if _, err := workshop.Lookup("9"); err == nil {
		t.Error("Lookup(9) found an exercise")
	}
}

func TestExercise1FirstMail(t *testing.T) {
	a1, a2 := itest.FreeAddr(t), itest.FreeAddr(t)
	o := workshop.Options{Addr: a1, Addr2: a2}
	_, err := workshop.CheckFirstMail(context.Background(), o)
	wantHint(t, err, "offload run --strategy foreground --addr "+a1)

	sink := itest.Sink(t, mailsink.Config{Delay: 50 * time.Millisecond})
	itest.Start(t, "foreground", "serve", "--strategy", "foreground", "--addr", a1, "--smtp", sink.Addr())
	itest.Start(t, "fireforget", "serve", "--strategy", "fireforget", "--addr", a2, "--smtp", sink.Addr())
	itest.WaitHTTP(t, "http://"+a1+"/healthz")
	itest.WaitHTTP(t, "http://"+a2+"/healthz")
	_, err = workshop.CheckFirstMail(context.Background(), o)
	wantHint(t, err, "has accepted no mail yet")

	for _, a := range []string{a1, a2} { // the exercise's curl lines
		resp, err := http.Post("http://"+a+"/jobs", "application/json", strings.NewReader(`{"to":"you@example.org","subject":"hi","text":"hello"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	msg, err := workshop.CheckFirstMail(context.Background(), o)
	wantPass(t, msg, err)
}

func TestExercise2BlockedLoop(t *testing.T) {
	a := itest.FreeAddr(t)
	o := workshop.Options{Addr: a}
	_, err := workshop.CheckBlockedLoop(context.Background(), o)
	wantHint(t, err, "nothing answers")

	sink := itest.Sink(t, mailsink.Config{})
	itest.Start(t, "foreground", "serve", "--strategy", "foreground", "--addr", a, "--smtp", sink.Addr())
	itest.WaitHTTP(t, "http://"+a+"/healthz")
	_, err = workshop.CheckBlockedLoop(context.Background(), o)
	wantHint(t, err, "was never blocked")

	resp, err := http.Post("http://"+a+"/jobs", "application/json", strings.NewReader(`{"to":"you@example.org","kind":"cpu","cost_ms":300}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	msg, err := workshop.CheckBlockedLoop(context.Background(), o)
	wantPass(t, msg, err)
}

func TestExercise3Yield(t *testing.T) {
	o := workshop.Options{}
	_, err := workshop.CheckYield(context.Background(), o, workshop.ParticipantYield())
	wantHint(t, err, "the loop never got a turn")
	msg, err := workshop.CheckYield(context.Background(), o, workshop.Yield{Sliced: sol03.BurnSliced, Pool: sol03.BurnOnPool})
	wantPass(t, msg, err)
}

// writeResults writes a results.json as offload bench does.
func writeResults(t *testing.T, dir string, runs ...results.Run) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &results.File{Schema: results.Schema, Env: results.Env{Quick: true, Start: time.Now()}, Runs: runs}
	if err := results.Write(filepath.Join(dir, "results.json"), f); err != nil {
		t.Fatal(err)
	}
}

func TestExercise4KillThings(t *testing.T) {
	out := t.TempDir()
	o := workshop.Options{Out: out}
	_, err := workshop.CheckKillThings(context.Background(), o)
	wantHint(t, err, "offload bench --strategies fireforget,localipc,queue --scenarios worker-crash,web-crash")

	writeResults(t, filepath.Join(out, "run1"),
		results.Run{Strategy: "fireforget", Scenario: "worker-crash", NAReason: "no worker process"},
		results.Run{Strategy: "fireforget", Scenario: "web-crash", Accepted: 300, Delivered: 297, Lost: 3},
		results.Run{Strategy: "queue", Scenario: "worker-crash", Accepted: 300, Delivered: 300},
	)
	msg, err := workshop.CheckKillThings(context.Background(), o)
	wantPass(t, msg, err)

	writeResults(t, filepath.Join(out, "run2"), results.Run{Strategy: "queue", Scenario: "worker-crash", Accepted: 300, Delivered: 290, Lost: 10})
	later := time.Now().Add(time.Second) // a newer run, whatever the file-system clock's resolution
	if err := os.Chtimes(filepath.Join(out, "run2", "results.json"), later, later); err != nil {
		t.Fatal(err)
	}
	_, err = workshop.CheckKillThings(context.Background(), o)
	wantHint(t, err, "queue lost 10 jobs")
}

func TestExercise5Capture(t *testing.T) {
	o := workshop.Options{}
	_, err := workshop.CheckCapture(context.Background(), o, workshop.ParticipantCapture())
	wantHint(t, err, "the failure was only logged")
	msg, err := workshop.CheckCapture(context.Background(), o, sol05.New)
	wantPass(t, msg, err)
}

func TestExercise6Retry(t *testing.T) {
	o := workshop.Options{}
	_, err := workshop.CheckRetry(context.Background(), o, workshop.ParticipantRetry())
	wantHint(t, err, "failed during the 700.0 ms mail outage after 1 attempt(s)")
	solution := func(send workshop.Send, p ex06.Policy) workshop.Send {
		return sol06.Worker{Send: send, Policy: p}.Perform
	}
	msg, err := workshop.CheckRetry(context.Background(), o, solution)
	wantPass(t, msg, err)
}

func TestExercise7Scale(t *testing.T) {
	out := t.TempDir()
	o := workshop.Options{Out: out}
	writeResults(t, filepath.Join(out, "r"), results.Run{Strategy: "queue", Scenario: "scale", Workers: 1})
	_, err := workshop.CheckScale(context.Background(), o)
	wantHint(t, err, "two or more worker counts")

	var runs []results.Run
	for _, w := range []int{1, 2, 4} {
		runs = append(runs, results.Run{Strategy: "queue", Scenario: "scale", Workers: w,
			ThroughputRPS: results.Throughput{Offered: 200, Delivered: min(200, float64(80*w))}})
	}
	writeResults(t, filepath.Join(out, "r2"), runs...)
	msg, err := workshop.CheckScale(context.Background(), o)
	wantPass(t, msg, err)
}

func TestExercise8Seventh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test twice")
	}
	o := workshop.Options{}
	_, err := workshop.CheckSeventh(context.Background(), o, "./workshop/ex08")
	wantHint(t, err, "does not hand jobs anywhere yet")
	msg, err := workshop.CheckSeventh(context.Background(), o, "./workshop/solutions/ex08")
	wantPass(t, msg, err)
}

func TestLookup(t *testing.T) {
	for _, arg := range []string{"1", "03", "8"} {
		if _, err := workshop.Lookup(arg); err != nil {
			t.Errorf("Lookup(%q): %v", arg, err)
		}
	}
	if _, err := workshop.Lookup("x"); err == nil || !strings.Contains(err.Error(), fmt.Sprint([]string{"1", "2", "3", "4", "5", "6", "7", "8"})) {
		t.Errorf("Lookup(x) = %v", err)
	}
}
