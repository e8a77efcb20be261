// Package joblog is the bounded memory of job states that a process
// answers GET /jobs/{id} from when the states live nowhere else (a worker's
// memory, a web process that ran the job itself). A job still in progress
// is always remembered — forgetting it would answer "unknown" for a job
// that may yet be delivered — and of the finished ones the last Keep, so
// memory stays bounded however many jobs pass through.
package joblog

import "sync"

// Log maps job ids to states of type S. It is safe for concurrent use.
type Log[S any] struct {
	mu       sync.Mutex
	keep     int
	final    func(S) bool
	byID     map[string]entry[S]
	finished []finished // oldest first
	seq      uint64
}

type entry[S any] struct {
	s   S
	seq uint64 // when it last became final; 0 while in progress
}

type finished struct {
	id  string
	seq uint64
}

// New returns a Log that keeps the last keep finished jobs; final tells
// whether a state is one no further change will follow.
func New[S any](keep int, final func(S) bool) *Log[S] {
	return &Log[S]{keep: max(keep, 1), final: final, byID: map[string]entry[S]{}}
}

// Get returns id's state, if remembered.
func (l *Log[S]) Get(id string) (S, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byID[id]
	return e.s, ok
}

// Set records s as id's state.
func (l *Log[S]) Set(id string, s S) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.put(id, s)
}

// Add records s for id unless id already has a state (a report that
// overtook the hand-over must not be undone), and reports whether it did.
func (l *Log[S]) Add(id string, s S) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.byID[id]; ok {
		return false
	}
	l.put(id, s)
	return true
}

// Update replaces id's state with f of it, only if id is remembered, and
// returns the new state.
func (l *Log[S]) Update(id string, f func(S) S) (S, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byID[id]
	if !ok {
		var zero S
		return zero, false
	}
	s := f(e.s)
	l.put(id, s)
	return s, true
}

// Len is the number of jobs remembered.
func (l *Log[S]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byID)
}

func (l *Log[S]) put(id string, s S) {
	if !l.final(s) {
		l.byID[id] = entry[S]{s: s}
		return
	}
	l.seq++
	l.byID[id] = entry[S]{s: s, seq: l.seq}
	l.finished = append(l.finished, finished{id, l.seq})
	for len(l.finished) > l.keep {
		old := l.finished[0]
		l.finished = l.finished[1:]
		// Only if it has not changed since: a job retried after it
		// finished is in progress again, or finished later.
		if e, ok := l.byID[old.id]; ok && e.seq == old.seq {
			delete(l.byID, old.id)
		}
	}
}
