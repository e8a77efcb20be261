package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/results"
)

func TestLivePlainPacesLines(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLive(&out, false, func() time.Time { return clock })
	p := results.Progress{Index: 3, Total: 12, Strategy: "queue", Scenario: "worker-crash", Phase: "measure",
		PhaseLen: 20 * time.Second, RateRPS: 200, Accepted: 1204, Delivered: 1180, Backlog: 24}
	for i := range 40 { // 20 s of updates, twice a second
		p.Elapsed = time.Duration(i) * 500 * time.Millisecond
		l.Update(p)
		clock = clock.Add(500 * time.Millisecond)
	}
	p.Phase, p.Done = "done", &results.Run{Accepted: 4000, Delivered: 4000}
	l.Update(p)
	l.Close()
	l.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 { // at 10 s, and the end; the first sighting only starts the clock
		t.Fatalf("plain mode printed %d lines, want 2:\n%s", len(lines), out.String())
	}
	want := "[ 3/12] queue worker-crash measure  10.0/20s:    200 req/s  accepted 1,204  delivered 1,180  backlog 24"
	if lines[0] != want {
		t.Errorf("got  %q\nwant %q", lines[0], want)
	}
	if !strings.Contains(lines[1], "done") || !strings.Contains(lines[1], "lost 0") {
		t.Errorf("last line %q does not report the finished run", lines[1])
	}
}

func TestLiveBarsDrawAndClose(t *testing.T) {
	var out bytes.Buffer
	l := NewLive(&out, true, nil)
	for i := 1; i <= 2; i++ {
		l.Update(results.Progress{Index: i, Total: 2, Strategy: "pubsub", Scenario: "steady", Phase: "measure",
			Elapsed: time.Second, PhaseLen: 4 * time.Second, Accepted: 10})
		l.Update(results.Progress{Index: i, Total: 2, Strategy: "pubsub", Scenario: "steady", Phase: "done",
			Done: &results.Run{Accepted: 10, Delivered: 10}})
	}
	l.Close()
	l.Update(results.Progress{Index: 3}) // ignored after Close
	if s := out.String(); !strings.Contains(s, "pubsub steady") || !strings.Contains(s, "delivered 10") {
		t.Errorf("bars did not show the runs:\n%q", s)
	}
}
