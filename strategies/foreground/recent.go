package foreground

import (
	"sync"
	"time"
)

// recent keeps the outcomes of the last max jobs, oldest evicted first, so
// GET /jobs/{id} can answer without memory growing with traffic.
type recent struct {
	mu    sync.Mutex
	max   int
	order []string
	byID  map[string]result
}

func newRecent(max int) *recent {
	return &recent{max: max, byID: make(map[string]result)}
}

func (r *recent) put(id string, err error) {
	res := result{at: time.Now()}
	if err != nil {
		res.err = err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; !ok {
		r.order = append(r.order, id)
	}
	r.byID[id] = res
	if len(r.order) > r.max {
		delete(r.byID, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *recent) get(id string) (result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.byID[id]
	return res, ok
}
