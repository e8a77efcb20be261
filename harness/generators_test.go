package harness

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
)

// Two real generator processes split one schedule: together they send
// every due time once, and the histograms merged from their interval-log
// files count exactly the sum of what each recorded.
func TestTwoGeneratorProcessesMerge(t *testing.T) {
	bin := itest.Binary(t)
	srv := httptest.NewServer(BareHandler())
	defer srv.Close()
	const rate, length = 200.0, time.Second
	timing := Quick()
	timing.Rate = rate
	job := GeneratorJob{Base: srv.URL, Scenario: Steady, Timing: timing, Length: length,
		Start: time.Now().Add(300 * time.Millisecond), Prefix: "g-", Timeout: 5 * time.Second, Out: t.TempDir()}
	m, err := runGenerators(context.Background(), bin, job, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := int(rate * length.Seconds())
	if m.Fired != want || len(m.Outcomes) != want {
		t.Fatalf("fired %d, outcomes %d; want %d of the one schedule", m.Fired, len(m.Outcomes), want)
	}
	seen := map[string]bool{}
	for _, o := range m.Outcomes {
		if seen[o.ID] {
			t.Errorf("%s sent twice", o.ID)
		}
		seen[o.ID] = true
		if !o.Accepted() {
			t.Errorf("%s: status %d %s", o.ID, o.Status, o.Err)
		}
	}
	for i := range want {
		if id := fmt.Sprintf("g-%06d", i); !seen[id] {
			t.Errorf("%s never sent", id)
		}
	}
	if len(m.Counts) != 2 || m.Counts[0]+m.Counts[1] != m.HTTP.TotalCount() || m.HTTP.TotalCount() != int64(want) {
		t.Errorf("per-generator counts %v, merged %d, want a sum of %d", m.Counts, m.HTTP.TotalCount(), want)
	}
	if m.Counts[0] == 0 || m.Counts[1] == 0 {
		t.Errorf("counts %v: both generators must have sent", m.Counts)
	}
	for i := range 2 {
		if _, err := os.Stat(generatorFile(job.Out, i, "hlog")); err != nil {
			t.Error(err)
		}
	}
}

// SIGTERM stops a generator's schedule early; it still writes its files.
func TestGeneratorsStopEarly(t *testing.T) {
	bin := itest.Binary(t)
	srv := httptest.NewServer(BareHandler())
	defer srv.Close()
	timing := Quick()
	timing.Rate = 100
	job := GeneratorJob{Base: srv.URL, Scenario: Steady, Timing: timing, Length: time.Hour,
		Start: time.Now().Add(300 * time.Millisecond), Prefix: "s-", Timeout: 5 * time.Second, Out: t.TempDir()}
	stop, cancel := context.WithCancel(context.Background())
	go func() {
		itest.Poll(time.Minute, func() bool {
			_, err := os.Stat(job.Out) // the schedule has begun once a second has passed
			return err == nil && time.Since(job.Start) > time.Second
		})
		cancel()
	}()
	m, err := runGenerators(stop, bin, job, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Fired == 0 || m.Fired > 100*60 || len(m.Outcomes) != m.Fired {
		t.Errorf("fired %d, outcomes %d: want a stopped schedule, every request answered", m.Fired, len(m.Outcomes))
	}
}
