package results

import "time"

// Progress is what the harness says about a run while it is under way,
// several times a second; the terminal view (reports) draws it. Plain values,
// so the harness never knows how it is shown.
type Progress struct {
	Index     int           // this run's number, 1-based
	Total     int           // runs in this bench
	Strategy  string        //
	Scenario  string        //
	Variant   string        //
	Phase     string        // setup, warmup, measure, drain, accounting, done, n/a
	Elapsed   time.Duration // in this phase
	PhaseLen  time.Duration // planned length of this phase (drain: its bound)
	RateRPS   float64       // requests sent per second over the last second
	Sent      int64
	Accepted  int64
	Delivered int64
	Backlog   int64
	Done      *Run // set with Phase "done" or "n/a"
}
