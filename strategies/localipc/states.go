package localipc

import (
	"sync"
	"time"

	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/strategies"
)

// states is the web child's bounded memory of its jobs: the last n ids it
// accepted, with the last state the worker reported for each.
type states struct {
	mu    sync.Mutex
	n     int
	byID  map[string]strategies.JobState
	order []string // accepted ids, oldest first
}

func newStates(n int) *states {
	return &states{n: n, byID: map[string]strategies.JobState{}}
}

// accepted records a hand-over, unless the worker's report came first.
func (s *states) accepted(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; ok {
		return
	}
	s.byID[id] = strategies.JobState{ID: id, Status: strategies.StatusAccepted, Updated: time.Now()}
	s.order = append(s.order, id)
	if len(s.order) > s.n {
		delete(s.byID, s.order[0])
		s.order = s.order[1:]
	}
}

// set applies a worker's report for a job this process accepted (a job
// accepted by a previous web process is not remembered).
func (s *states) set(st memqueue.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[st.ID]; !ok {
		return
	}
	s.byID[st.ID] = strategies.JobState{ID: st.ID, Status: toStatus(st.Status), Attempts: st.Attempts, Error: st.Error, Updated: st.Updated}
}

// lost marks ids that died with the worker.
func (s *states) lost(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if st, ok := s.byID[id]; ok {
			st.Status, st.Updated = strategies.StatusFailed, time.Now()
			st.Error = "lost: the worker process died while the job was in its memory"
			s.byID[id] = st
		}
	}
}

func (s *states) get(id string) (strategies.JobState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byID[id]
	return st, ok
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
