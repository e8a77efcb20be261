package memqueue

import (
	"time"

	"github.com/offload/offload/internal/joblog"
)

// Status of a job inside a worker's memory.
type Status string

const (
	StatusQueued   Status = "queued"   // waiting for a slot and the throttle
	StatusRunning  Status = "running"  // being performed
	StatusRetrying Status = "retrying" // failed, waiting for its backoff
	StatusDone     Status = "done"     // performed
	StatusFailed   Status = "failed"   // out of attempts, or a permanent error
	StatusLost     Status = "lost"     // the worker stopped while holding it
)

// Final reports whether no further change will come for the job.
func (s Status) Final() bool { return s == StatusDone || s == StatusFailed || s == StatusLost }

// State is what the worker knows about one job.
type State struct {
	ID       string    `json:"id"`
	Status   Status    `json:"status"`
	Attempts int       `json:"attempts,omitempty"`
	Error    string    `json:"error,omitempty"`
	Updated  time.Time `json:"updated"`
}

// Stats are the worker's counters. Queued, InFlight and Retrying are what
// would be lost if the process died now.
type Stats struct {
	Received  int64 `json:"received"`  // jobs pushed
	Queued    int   `json:"queued"`    // waiting for a slot or the throttle
	InFlight  int   `json:"in_flight"` // being performed
	Retrying  int   `json:"retrying"`  // waiting for a retry's backoff
	Retries   int64 `json:"retries"`   // retries scheduled, in total
	Delivered int64 `json:"delivered"` // performed successfully
	Failed    int64 `json:"failed"`    // given up on
	Dropped   int64 `json:"dropped"`   // refused because the queue was full
}

// Held is how many jobs the worker has in memory.
func (s Stats) Held() int { return s.Queued + s.InFlight + s.Retrying }

// newTracker remembers the state of active jobs and of the last n
// finished ones.
func newTracker(n int) *joblog.Log[State] {
	return joblog.New(n, func(s State) bool { return s.Status.Final() })
}

// setState records id's new state and returns it.
func (q *Queue) setState(id string, s Status, attempts int, errMsg string) State {
	st := State{ID: id, Status: s, Attempts: attempts, Error: errMsg, Updated: time.Now()}
	q.track.Set(id, st)
	return st
}
