package workshop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/results"
	"github.com/offload/offload/workshop"
	"github.com/offload/offload/workshop/ex03"
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
	// Plausible wrong answers: slicing by handing the job to a goroutine
	// (off the loop, so it is not slicing), a "pool" that burns on the
	// loop and then calls done, and CPU sent down the network I/O path.
	offLoop := func(l ex03.Loop, total, slice time.Duration, done func()) {
		go func() {
			for left := total; left > 0; left -= slice {
				job.Burn(min(slice, left))
			}
			l.Post(done)
		}()
	}
	onLoop := func(rt eventloop.Runtime, total time.Duration, done func()) {
		job.Burn(total)
		done()
	}
	onIO := func(rt eventloop.Runtime, total time.Duration, done func()) {
		rt.IO(func() error { job.Burn(total); return nil }, func(error) { done() })
	}
	for _, c := range []struct {
		name string
		y    workshop.Yield
		hint string // "": must pass
	}{
		{"skeleton", workshop.ParticipantYield(), "the loop never got a turn"},
		{"wrong: sliced off the loop", workshop.Yield{Sliced: offLoop, Pool: sol03.BurnOnPool}, "gave the loop back"},
		{"wrong: the pool burns on the loop", workshop.Yield{Sliced: sol03.BurnSliced, Pool: onLoop}, "the work still runs on the loop"},
		{"wrong: cpu on the I/O path", workshop.Yield{Sliced: sol03.BurnSliced, Pool: onIO}, "not rt.IO"},
		{"solution", workshop.Yield{Sliced: sol03.BurnSliced, Pool: sol03.BurnOnPool}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := workshop.CheckYield(context.Background(), workshop.Options{}, c.y)
			if c.hint == "" {
				wantPass(t, msg, err)
				return
			}
			wantHint(t, err, c.hint)
		})
	}
}

// writeResults writes a results.json as offload bench does, for a bench
// that started at start.
func writeResults(t *testing.T, dir string, start time.Time, runs ...results.Run) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &results.File{Schema: results.Schema, Env: results.Env{Quick: true, Start: start}, Runs: runs}
	if err := results.Write(filepath.Join(dir, "results.json"), f); err != nil {
		t.Fatal(err)
	}
}

// crashRuns is what the exercise's bench writes: fireforget loses jobs
// when its web process is killed, queue none.
func crashRuns(queueLost int64) []results.Run {
	return []results.Run{
		{Strategy: "fireforget", Scenario: "worker-crash", NAReason: "no worker process"},
		{Strategy: "fireforget", Scenario: "web-crash", Accepted: 300, Delivered: 297, Lost: 3},
		{Strategy: "queue", Scenario: "worker-crash", Accepted: 300, Delivered: 300 - queueLost, Lost: queueLost},
		{Strategy: "queue", Scenario: "web-crash", Accepted: 300, Delivered: 300},
	}
}

func TestExercise4KillThings(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		name  string
		start bool // offload exercise start 4
		runs  func(t *testing.T, out string, started time.Time)
		hint  string // "": must pass
	}{
		{"skeleton: nothing run", true, func(*testing.T, string, time.Time) {}, "found no worker-crash or web-crash runs"},
		{"never started", false, func(t *testing.T, out string, _ time.Time) {
			writeResults(t, filepath.Join(out, "run"), time.Now(), crashRuns(0)...)
		}, "offload exercise start 4"},
		{"wrong: an old make bench from before the start", true, func(t *testing.T, out string, _ time.Time) {
			writeResults(t, filepath.Join(out, "old"), past, crashRuns(0)...)
		}, "found no worker-crash or web-crash runs"},
		{"wrong: queue lost jobs in a timing-invalid run", true, func(t *testing.T, out string, started time.Time) {
			runs := crashRuns(10)
			runs[2].Invalid = "the generator fell 80 ms behind its schedule"
			writeResults(t, filepath.Join(out, "run"), started.Add(time.Second), runs...)
		}, "queue lost 10 jobs"},
		{"wrong: only queue was run", true, func(t *testing.T, out string, started time.Time) {
			writeResults(t, filepath.Join(out, "run"), started.Add(time.Second), crashRuns(0)[2:]...)
		}, "no measured fireforget or localipc run"},
		{"wrong: a newer run hides a passing one", true, func(t *testing.T, out string, started time.Time) {
			writeResults(t, filepath.Join(out, "run1"), started.Add(time.Second), crashRuns(0)...)
			writeResults(t, filepath.Join(out, "run2"), started.Add(2*time.Second), crashRuns(10)[2:3]...)
			later := time.Now().Add(time.Second) // newer, whatever the file-system clock's resolution
			if err := os.Chtimes(filepath.Join(out, "run2", "results.json"), later, later); err != nil {
				t.Fatal(err)
			}
		}, "queue lost 10 jobs"},
		{"solution", true, func(t *testing.T, out string, started time.Time) {
			writeResults(t, filepath.Join(out, "old"), past, crashRuns(10)...) // an old bench is ignored
			writeResults(t, filepath.Join(out, "run"), started.Add(time.Second), crashRuns(0)...)
		}, ""},
		{"solution, a run timing-invalid", true, func(t *testing.T, out string, started time.Time) {
			runs := crashRuns(0)
			runs[1].Invalid = "the generator fell 80 ms behind its schedule"
			writeResults(t, filepath.Join(out, "run"), started.Add(time.Second), runs...)
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := workshop.Options{Out: t.TempDir()}
			var started time.Time
			if c.start {
				var err error
				if started, err = workshop.Start(o, 4); err != nil {
					t.Fatal(err)
				}
			}
			c.runs(t, o.Out, started)
			msg, err := workshop.CheckKillThings(context.Background(), o)
			if c.hint == "" {
				wantPass(t, msg, err)
				return
			}
			wantHint(t, err, c.hint)
		})
	}
}

// overlay writes a go build -overlay file that puts each replacement in
// the place of its file of the module (paths relative to the module root).
func overlay(t *testing.T, replace map[string]string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for file, with := range replace {
		m[filepath.Join(root, file)] = filepath.Join(root, with)
	}
	b, err := json.Marshal(map[string]any{"Replace": m})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExercise5Capture(t *testing.T) {
	// In process, fast: the check's logic on the skeleton and the solution.
	_, err := workshop.CheckCapture(context.Background(), workshop.Options{}, workshop.ParticipantCapture())
	wantHint(t, err, "the failure was only logged")
	msg, err := workshop.CheckCapture(context.Background(), workshop.Options{}, sol05.New)
	wantPass(t, msg, err)
}

func TestExercise5CaptureUnderRace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test -race three times")
	}
	const file = "workshop/ex05/capture.go"
	for _, c := range []struct {
		name    string
		replace string // the file put in the skeleton's place; "": the skeleton
		hint    string // "": must pass
	}{
		{"skeleton", "", "the failure was only logged"},
		{"wrong: no mutex", "workshop/testdata/answers/ex05_nomutex.go", "the race detector caught two goroutines"},
		{"solution", "workshop/solutions/ex05/capture.go", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := workshop.Options{Root: ".."}
			if c.replace != "" {
				o.Overlay = overlay(t, map[string]string{file: c.replace})
			}
			msg, err := workshop.CheckCaptureRace(context.Background(), o)
			if c.hint == "" {
				wantPass(t, msg, err)
				return
			}
			wantHint(t, err, c.hint)
		})
	}
}

func TestExercise6Retry(t *testing.T) {
	solution := func(send workshop.Send, p ex06.Policy) workshop.Send {
		return sol06.Worker{Send: send, Policy: p}.Perform
	}
	for _, c := range []struct {
		name  string
		retry workshop.Retry
		hint  string // "": must pass
	}{
		{"skeleton", workshop.ParticipantRetry(), "failed during the 700.0 ms mail outage after 1 attempt(s)"},
		{"step: Base, then Max", stepWait, "but 32 of 32 jobs waited longer"},
		{"linear growth", linearWait, "the waits do not double"},
		{"constant wait", constantWait, "the waits do not double"},
		{"bare time.Sleep", sleepsThrough, "it sleeps through a cancelled context"},
		{"solution", solution, ""},
		{"full jitter", fullJitter, ""},
		{"equal jitter", equalJitter, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := workshop.CheckRetry(context.Background(), workshop.Options{}, c.retry)
			if c.hint == "" {
				wantPass(t, msg, err)
				return
			}
			wantHint(t, err, c.hint)
		})
	}
}

func TestExercise7Scale(t *testing.T) {
	delivers := 80.0
	capacityRun := results.Run{Strategy: "queue", Scenario: "capacity", Loop: "node",
		Capacity: &results.Capacity{MaxAcceptRPS: 900, MaxDeliveryRPS: &delivers, LimitedBy: "workers"}}
	scale := func(workers ...int) []results.Run {
		var runs []results.Run
		for _, w := range workers {
			runs = append(runs, results.Run{Strategy: "queue", Scenario: "scale", Loop: "node", Workers: w, Variant: fmt.Sprintf("workers=%d", w),
				ThroughputRPS: results.Throughput{Offered: 200, Delivered: min(200, delivers*float64(w))}})
		}
		return runs
	}
	for _, c := range []struct {
		name string
		runs []results.Run
		hint string // "": must pass
	}{
		{"skeleton: nothing run", nil, "found no scale runs"},
		{"wrong: a --quick bench (one worker count)", append(scale(2), capacityRun), "run it without --quick"},
		{"wrong: scale without the capacity ladder", scale(1, 2, 4), "no capacity run beside them"},
		{"wrong: the scale runs were interrupted", func() []results.Run {
			runs := scale(1, 2, 4)
			for i := range runs {
				runs[i].Interrupted = true
			}
			return append(runs, capacityRun)
		}(), "found no scale runs"},
		{"solution, timing invalid on a busy machine", func() []results.Run {
			runs := scale(1, 2, 4)
			for i := range runs {
				runs[i].Invalid = "the generator fell behind"
			}
			return append(runs, capacityRun)
		}(), ""},
		{"solution: " + scaleBench, append(scale(1, 2, 4), capacityRun), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := workshop.Options{Out: t.TempDir()}
			if c.runs != nil {
				writeResults(t, filepath.Join(o.Out, "r"), time.Now(), c.runs...)
			}
			msg, err := workshop.CheckScale(context.Background(), o)
			if c.hint == "" {
				wantPass(t, msg, err)
				return
			}
			wantHint(t, err, c.hint)
		})
	}
}

// scaleBench is what exercise 7's page tells you to run.
const scaleBench = "offload bench --strategies queue --scenarios capacity,scale"

func TestExercise8Seventh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test, go build and offload bench")
	}
	const (
		file  = "workshop/ex08/seventh.go"
		entry = "strategies/catalog/zz_exercise8.go" // the participant's catalog entry
	)
	for _, c := range []struct {
		name    string
		replace string // put in the skeleton's place; "": the skeleton
		hint    string // "": must pass
	}{
		{"skeleton", "", "does not hand jobs anywhere yet"},
		{"wrong: New returns fireforget.New(cfg)", "workshop/testdata/answers/ex08_fireforget.go", "lost"},
		{"solution", "workshop/solutions/ex08/spool.go", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := workshop.Options{Root: "..", Log: testLog{t}}
			if c.replace != "" {
				o.Overlay = overlay(t, map[string]string{file: c.replace, entry: "workshop/testdata/answers/catalog_seventh.go"})
			}
			msg, err := workshop.CheckSeventh(context.Background(), o, "./workshop/ex08")
			if c.hint == "" {
				wantPass(t, msg, err)
				return
			}
			wantHint(t, err, c.hint)
			if c.replace != "" && !strings.Contains(err.Error(), "the bench killed") {
				t.Fatalf("the wrong answer failed before the crash scenarios: %v", err)
			}
		})
	}
}

// testLog sends a check's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
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
