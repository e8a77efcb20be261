package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestValidityRule drives the generator on a fake clock, the sending side
// played by a function that writes each request some time after the pacer
// fired it, and checks the rule that judges the run.
func TestValidityRule(t *testing.T) {
	start := time.Unix(2000, 0)
	cases := []struct {
		name      string
		writeLag  func(seq int) time.Duration // fired -> written
		lose      int                         // outcomes never recorded
		bound     time.Duration
		httpP99   time.Duration // the run's own; 0: the floor alone
		connWait  func(seq int) bool
		wantWhy   string // "" valid
		wantCount int64  // send delays recorded
	}{
		{name: "kept its schedule", writeLag: func(int) time.Duration { return 200 * time.Microsecond },
			bound: time.Millisecond, wantCount: 1000},
		{name: "dial on every 50th request", writeLag: func(seq int) time.Duration {
			if seq%50 == 0 {
				return 30 * time.Millisecond
			}
			return 100 * time.Microsecond
		}, bound: time.Millisecond, wantCount: 1000}, // 2% slow: the p99 sees them
		{name: "one slow request in a thousand", writeLag: func(seq int) time.Duration {
			if seq == 500 {
				return 30 * time.Millisecond
			}
			return 100 * time.Microsecond
		}, bound: time.Millisecond, wantCount: 1000},
		{name: "never wrote (refused) is not a send delay", writeLag: func(seq int) time.Duration {
			if seq%2 == 0 {
				return -1
			}
			return 300 * time.Microsecond
		}, bound: time.Millisecond, wantCount: 500},
		{name: "outcomes missing", writeLag: func(int) time.Duration { return 0 }, lose: 3,
			bound: time.Millisecond, wantWhy: "fired 1000 requests but recorded 997", wantCount: 997},
		{name: "a looser bound", writeLag: func(int) time.Duration { return 3 * time.Millisecond },
			bound: 5 * time.Millisecond, wantCount: 1000},
		{name: "the default bound is 1ms", writeLag: func(int) time.Duration { return 3 * time.Millisecond },
			wantWhy: "exceeds 1.00ms", wantCount: 1000},
		// A slow server's p99 is not moved 10 % by 3 ms of lateness.
		{name: "a tenth of a 40ms p99 allows 3ms", writeLag: func(int) time.Duration { return 3 * time.Millisecond },
			bound: time.Millisecond, httpP99: 40 * time.Millisecond, wantCount: 1000},
		{name: "a tenth of a 20ms p99 refuses 3ms", writeLag: func(int) time.Duration { return 3 * time.Millisecond },
			bound: time.Millisecond, httpP99: 20 * time.Millisecond, wantWhy: "exceeds 2.00ms", wantCount: 1000},
		// A wait for a connection is the server's: every connection was
		// busy with a request it had not answered.
		{name: "waits for a connection are left out", writeLag: func(seq int) time.Duration {
			if seq%10 == 0 {
				return 30 * time.Millisecond
			}
			return 100 * time.Microsecond
		}, connWait: func(seq int) bool { return seq%10 == 0 }, bound: time.Millisecond, wantCount: 1000},
	}
	cases[1].wantWhy = "p99 send delay (due -> written) 30"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{now: start}
			var outs []Outcome
			pace := Generate(context.Background(), clk, start, &Paced{Rate: Constant(1000), Duration: time.Second}, func(seq int, due time.Time) {
				o := Outcome{Request: Request{Seq: seq, Due: due}, Sent: clk.Now()}
				o.ConnWait = c.connWait != nil && c.connWait(seq)
				if lag := c.writeLag(seq); lag >= 0 {
					o.Wrote = clk.Now().Add(lag)
				}
				if seq >= 1000-c.lose {
					return
				}
				outs = append(outs, o)
			})
			d := sendDelays(outs)
			if d.TotalCount() != c.wantCount {
				t.Errorf("send delays recorded %d, want %d", d.TotalCount(), c.wantCount)
			}
			why := Validity(pace.Fired, len(outs), sendDelays(ownPace(outs)), c.httpP99, c.bound)
			if c.wantWhy == "" && why != "" {
				t.Errorf("want valid, got %q", why)
			}
			if c.wantWhy != "" && !strings.Contains(why, c.wantWhy) {
				t.Errorf("want a reason containing %q, got %q", c.wantWhy, why)
			}
		})
	}
}

// A generator the pacer itself made late shows in the send delay too: the
// due time, not the fire time, is where it is measured from.
func TestValiditySeesPacerLateness(t *testing.T) {
	start := time.Unix(3000, 0)
	clk := &fakeClock{now: start}
	var outs []Outcome
	pace := Generate(context.Background(), clk, start, &Paced{Rate: Constant(1000), Duration: time.Second}, func(seq int, due time.Time) {
		if seq%20 == 0 {
			clk.now = clk.now.Add(5 * time.Millisecond) // the pacer stalls
		}
		outs = append(outs, Outcome{Request: Request{Seq: seq, Due: due}, Wrote: clk.Now()})
	})
	why := Validity(pace.Fired, len(outs), sendDelays(outs), 0, time.Millisecond)
	if !strings.Contains(why, "fell behind") {
		t.Errorf("a pacer 5ms late every 20 requests must be refused, got %q", why)
	}
}

func TestInterleaveSpreadsRepeatsRoundRobin(t *testing.T) {
	plans := []Plan{{Strategy: "a"}, {Strategy: "b", NA: "not built"}, {Strategy: "c"}}
	got := Interleave(plans, 3)
	var order []string
	for _, p := range got {
		order = append(order, fmt.Sprintf("%s%d", p.Strategy, p.Repeat))
	}
	want := "a0 b0 c0 a1 c1 a2 c2"
	if strings.Join(order, " ") != want {
		t.Errorf("order %v, want %s (round-robin, n/a once)", order, want)
	}
	if len(Interleave(plans, 1)) != 3 || len(Interleave(plans, 0)) != 3 {
		t.Error("one repeat is the plan itself")
	}
}

// The generator's hand-built request body and id are what encoding/json
// and fmt would have made.
func TestJobBodyAndIDMatchTheirSlowForms(t *testing.T) {
	for _, seq := range []int{0, 7, 42, 123456, 1234567} {
		if got, want := jobID("r001-", seq), fmt.Sprintf("r001-%06d", seq); got != want {
			t.Errorf("jobID(%d) = %q, want %q", seq, got, want)
		}
	}
	for _, id := range []string{"r001-000042", `we"ird\id`, "é"} {
		r := Request{ID: id, Kind: "io"}
		want, _ := json.Marshal(jobPayload{To: "bench@example.org", Subject: "offload bench " + id, Text: "one job of an offload bench run", Kind: "io"})
		if got := jobBody(r); string(got) != string(want) {
			t.Errorf("body for %q:\n got %s\nwant %s", id, got, want)
		}
	}
}
