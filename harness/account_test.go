package harness

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

// steadyRun is 100 io jobs/s for 4s, each answered in 2ms and delivered
// 5ms after it was due, unless deliver says otherwise.
func steadyRun(deliver func(i int, due time.Time) (time.Time, int)) Record {
	rec := Record{Start: t0, End: at(4 * time.Second), DrainEnd: at(5 * time.Second), Deliveries: map[string]Delivery{},
		RecoveryWindow: 300 * time.Millisecond}
	for i := range 400 {
		due := at(time.Duration(i) * 10 * time.Millisecond)
		o := Outcome{Request: Request{Seq: i, ID: fmt.Sprintf("r-%d", i), Kind: "io", Due: due}, Sent: due, Done: due.Add(2 * time.Millisecond), Status: 202}
		rec.Requests = append(rec.Requests, o)
		if first, n := deliver(i, due); n > 0 {
			rec.Deliveries[o.ID] = Delivery{First: first, Count: n}
		}
	}
	return rec
}

func TestAccountLossDuplicatesAndRejections(t *testing.T) {
	rec := steadyRun(func(i int, due time.Time) (time.Time, int) {
		switch {
		case i == 3 || i == 4:
			return time.Time{}, 0 // accepted, never delivered: lost
		case i == 7:
			return due.Add(5 * time.Millisecond), 3 // delivered three times: two duplicates
		}
		return due.Add(5 * time.Millisecond), 1
	})
	rec.Requests[10].Status = 503                                           // rejected: the client knows
	rec.Requests[11].Status, rec.Requests[11].Err = 0, "connection refused" // transport error
	rec.Requests[12].Kind = "cpu"                                           // no mail expected
	delete(rec.Deliveries, "r-10")
	delete(rec.Deliveries, "r-11")
	delete(rec.Deliveries, "r-12")
	rec.Deliveries["stranger"] = Delivery{First: at(time.Second), Count: 1}

	r := Account(rec).Run
	checks := []struct {
		name      string
		got, want int64
	}{
		{"sent", r.Sent, 400}, {"accepted", r.Accepted, 398}, {"rejected", r.Rejected, 1},
		{"transport errors", r.TransportErrors, 1}, {"cpu jobs", r.CPUJobs, 1},
		{"delivered", r.Delivered, 395}, {"lost", r.Lost, 2}, {"duplicates", r.Duplicates, 2},
		{"unexpected", r.Unexpected, 1}, {"status 202", int64(r.Status["202"]), 398},
		{"status 503", int64(r.Status["503"]), 1}, {"status error", int64(r.Status["error"]), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if r.E2ELatencyMS.P50 < 4.9 || r.E2ELatencyMS.P50 > 5.1 {
		t.Errorf("e2e p50 %.3fms, want 5ms (due -> first delivery)", r.E2ELatencyMS.P50)
	}
	if r.HTTPLatencyMS.Count != 400 {
		t.Errorf("http latency over %d requests, want 400 (a transport error stays in the tail)", r.HTTPLatencyMS.Count)
	}
	if r.RecoveryS != nil {
		t.Errorf("recovery %v without a fault", *r.RecoveryS)
	}
	if len(r.Timeseries) != 50 || r.Timeseries[10].Offered != 10 {
		t.Errorf("time series: %d points, point 10 offered %d", len(r.Timeseries), r.Timeseries[10].Offered)
	}
}

// Timeouts are the slowest requests of a run: they must sit at the top
// of the HTTP tail, not vanish from it. Requests cut off by Ctrl-C and jobs
// in flight when it came are neither latency nor loss.
func TestAccountTimeoutsInTailAndInterruptedRuns(t *testing.T) {
	cases := []struct {
		name                               string
		interrupted                        bool
		wantLost, wantInFlight, wantCancel int64
	}{
		{name: "finished", wantLost: 5},
		{name: "interrupted", interrupted: true, wantInFlight: 2, wantCancel: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := steadyRun(func(i int, due time.Time) (time.Time, int) {
				if i >= 395 {
					return time.Time{}, 0
				}
				return due.Add(5 * time.Millisecond), 1
			})
			for i := 390; i < 395; i++ { // five timeouts, 10s after their due time
				o := &rec.Requests[i]
				o.Status, o.Err, o.Timeout, o.Done = 0, "timeout", true, o.Due.Add(10*time.Second)
				delete(rec.Deliveries, o.ID)
			}
			if c.interrupted {
				rec.Interrupted = true
				for i := 395; i < 398; i++ {
					o := &rec.Requests[i]
					o.Status, o.Err, o.Canceled, o.Done = 0, "context canceled", true, o.Due.Add(time.Millisecond)
				}
			}
			r := Account(rec).Run
			if r.Timeouts != 5 || r.TransportErrors != 5 {
				t.Errorf("timeouts %d transport errors %d, want 5 and 5", r.Timeouts, r.TransportErrors)
			}
			if r.HTTPLatencyMS.Max < 9999 {
				t.Errorf("http max %.1fms: the timeouts (10s) must be in the tail", r.HTTPLatencyMS.Max)
			}
			if r.HTTPLatencyMS.P99 < 9999 {
				t.Errorf("http p99 %.1fms: 5 of 400 timed out, so the p99 is a timeout", r.HTTPLatencyMS.P99)
			}
			if r.Lost != c.wantLost || r.InFlight != c.wantInFlight || r.Canceled != c.wantCancel {
				t.Errorf("lost %d in flight %d canceled %d, want %d %d %d", r.Lost, r.InFlight, r.Canceled,
					c.wantLost, c.wantInFlight, c.wantCancel)
			}
		})
	}
}

func TestAccountLatencyIsFromDueNotSent(t *testing.T) {
	rec := steadyRun(func(i int, due time.Time) (time.Time, int) { return due.Add(5 * time.Millisecond), 1 })
	// The generator sent request 0 40ms late; the server answered 2ms later.
	rec.Requests[0].Sent = rec.Requests[0].Due.Add(40 * time.Millisecond)
	rec.Requests[0].Done = rec.Requests[0].Sent.Add(2 * time.Millisecond)
	r := Account(rec).Run
	if r.HTTPLatencyMS.Max < 41.9 || r.ServiceLatencyMS.Max > 2.1 {
		t.Errorf("http max %.3f (want 42, from due), service max %.3f (want 2, from send)", r.HTTPLatencyMS.Max, r.ServiceLatencyMS.Max)
	}
}

func TestAccountRecovery(t *testing.T) {
	fault := FaultWindow{Kind: FaultKillWorker, Start: at(time.Second), Repair: at(1500 * time.Millisecond)}
	// Jobs due during the fault wait for the repair, then drain in 100ms.
	backlog := func(i int, due time.Time) (time.Time, int) {
		if due.Before(fault.Start) || !due.Before(fault.Repair) {
			return due.Add(5 * time.Millisecond), 1
		}
		return at(1500*time.Millisecond + time.Duration(i-100)*2*time.Millisecond), 1
	}
	tests := []struct {
		name    string
		deliver func(int, time.Time) (time.Time, int)
		want    float64 // seconds after the repair; <0: none
	}{
		// The window from 1.5s still carries the backlog (more than 10%
		// over the offered rate); the one from 1.6s matches it.
		{"backlog drains", backlog, 0.1},
		// A job accepted before the fault and delivered only at 2.2s holds
		// recovery until then.
		{"late pre-fault job", func(i int, due time.Time) (time.Time, int) {
			if i == 50 {
				return at(2200 * time.Millisecond), 1
			}
			return backlog(i, due)
		}, 0.7},
		// Lost pre-fault jobs are counted lost, not waited for.
		{"lost pre-fault job", func(i int, due time.Time) (time.Time, int) {
			if i == 50 {
				return time.Time{}, 0
			}
			return backlog(i, due)
		}, 0.1},
		{"never back", func(i int, due time.Time) (time.Time, int) {
			if due.Before(fault.Start) {
				return due.Add(5 * time.Millisecond), 1
			}
			return time.Time{}, 0
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := steadyRun(tt.deliver)
			rec.Faults = []FaultWindow{fault}
			r := Account(rec).Run
			if tt.want < 0 {
				if r.RecoveryS != nil || r.RecoveryNote == "" {
					t.Errorf("recovery %v note %q, want none with a note", r.RecoveryS, r.RecoveryNote)
				}
				return
			}
			if r.RecoveryS == nil {
				t.Fatalf("no recovery: %s", r.RecoveryNote)
			}
			if *r.RecoveryS != tt.want {
				t.Errorf("recovery %.3fs, want %.3fs", *r.RecoveryS, tt.want)
			}
			if len(r.Faults) != 1 || r.Faults[0].StartS != 1 || r.Faults[0].EndS != 1.5 {
				t.Errorf("faults %+v", r.Faults)
			}
		})
	}
}

func TestAccountBacklogSeries(t *testing.T) {
	rec := steadyRun(func(i int, due time.Time) (time.Time, int) {
		if i < 50 {
			return at(time.Second), 1 // the first half second is delivered at 1s
		}
		return due.Add(5 * time.Millisecond), 1
	})
	r := Account(rec).Run
	if got := r.Timeseries[4].Backlog; got != 50 {
		t.Errorf("backlog at 0.4s = %d, want 50 (all accepted, none delivered)", got)
	}
	if got := r.Timeseries[12].Backlog; got != 0 {
		t.Errorf("backlog at 1.2s = %d, want 0", got)
	}
}
