package localipc

import (
	"time"

	"github.com/offload/offload/internal/joblog"
	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/strategies"
)

// states is the web child's bounded memory of the jobs it accepted, with
// the last state the worker reported for each.
type states struct {
	*joblog.Log[strategies.JobState]
}

func newStates(n int) states { return states{strategies.NewJobLog(n)} }

// accepted records a hand-over, unless the worker's report came first.
func (s states) accepted(id string) {
	s.Add(id, strategies.JobState{ID: id, Status: strategies.StatusAccepted, Updated: time.Now()})
}

// set applies a worker's report for a job this process accepted (a job
// accepted by a previous web process is not remembered).
func (s states) set(st memqueue.State) {
	s.Update(st.ID, func(strategies.JobState) strategies.JobState {
		return strategies.JobState{ID: st.ID, Status: toStatus(st.Status), Attempts: st.Attempts, Error: st.Error, Updated: st.Updated}
	})
}

// lost marks ids that died with the worker.
func (s states) lost(ids []string) {
	for _, id := range ids {
		s.Update(id, func(st strategies.JobState) strategies.JobState {
			st.Status, st.Updated = strategies.StatusFailed, time.Now()
			st.Error = "lost: the worker process died while the job was in its memory"
			return st
		})
	}
}

func toStatus(s memqueue.Status) strategies.Status {
	switch s {
	case memqueue.StatusQueued, memqueue.StatusRetrying:
		return strategies.StatusQueued
	case memqueue.StatusRunning:
		return strategies.StatusRunning
	case memqueue.StatusDone:
		return strategies.StatusDone
	default:
		return strategies.StatusFailed
	}
}
