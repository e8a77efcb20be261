// Package liveview is the page `offload run` and `offload bench` serve while
// they work: a timeline of offered, accepted and delivered jobs, the
// backlog, loop lag and the processes, pushed to the browser as server-sent
// events. The numbers after the fact live in reports; this package exists
// for the room that wants to watch a worker die and the backlog drain while
// it happens. It knows nothing about strategies: run and bench hand it
// narrow hooks (RunConfig, Bench).
package liveview

import (
	"sync"
	"time"

	"github.com/offload/offload/strategies/catalog"
)

// colorOf is the strategy's colour in every report, from the catalog.
func colorOf(strategy string) string {
	e, err := catalog.Lookup(strategy)
	if err != nil {
		return ""
	}
	return e.Style.Color
}

// Event is one update of the page: the JSON of one server-sent event.
// Counts are cumulative since the page's server started; rates are per
// second over the last interval.
type Event struct {
	Seq       int64              `json:"seq"`
	Time      time.Time          `json:"time"`
	Mode      string             `json:"mode"` // run or bench
	Strategy  string             `json:"strategy,omitempty"`
	Loop      string             `json:"loop,omitempty"`
	Color     string             `json:"color,omitempty"` // the strategy's colour in the reports
	Offered   int64              `json:"offered"`
	Accepted  int64              `json:"accepted"`
	Delivered int64              `json:"delivered"`
	Backlog   int64              `json:"backlog"` // accepted - delivered
	Rates     Rates              `json:"rates"`
	Broker    map[string]float64 `json:"broker,omitempty"` // the broker's own view, see brokerMetrics
	LagMS     map[string]float64 `json:"lag_ms"`           // role -> worst loop lag over the interval
	LagSeries map[string][]Point `json:"lag_series,omitempty"`
	Processes []Process          `json:"processes"`
	Faults    []Fault            `json:"faults,omitempty"` // what happened during the interval
	Bench     *BenchState        `json:"bench,omitempty"`
	Actions   []ActionInfo       `json:"actions,omitempty"`
}

// Rates are per second.
type Rates struct {
	Offered   float64 `json:"offered"`
	Accepted  float64 `json:"accepted"`
	Delivered float64 `json:"delivered"`
}

// Point is one 100 ms bucket of a loop's lag: its start (Unix ms) and max.
type Point struct {
	T     int64   `json:"t"`
	MaxMS float64 `json:"max_ms"`
}

// Process is one child as the page shows it.
type Process struct {
	Role     string `json:"role"`
	PID      int    `json:"pid"`
	Up       bool   `json:"up"`
	Restarts int    `json:"restarts,omitempty"`
}

// Fault is a mark on the timeline.
type Fault struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// History is how many events the server keeps, so that a page that opens
// or reconnects late still draws the last few minutes.
const History = 300

// hub keeps the recent events and hands new ones to every open page.
type hub struct {
	mu   sync.Mutex
	seq  int64
	ring []Event
	subs map[chan Event]struct{}
}

func newHub() *hub { return &hub{subs: map[chan Event]struct{}{}} }

// publish numbers ev, keeps it, and offers it to every subscriber; a page
// too slow to take it misses it (it is in the history for its reconnect).
func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	ev.Seq = h.seq
	h.ring = append(h.ring, ev)
	if len(h.ring) > History {
		h.ring = append(h.ring[:0:0], h.ring[len(h.ring)-History:]...)
	}
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// subscribe returns the kept events after seq and a channel of new ones.
func (h *hub) subscribe(after int64) ([]Event, chan Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var past []Event
	for _, ev := range h.ring {
		if ev.Seq > after {
			past = append(past, ev)
		}
	}
	ch := make(chan Event, 16)
	h.subs[ch] = struct{}{}
	return past, ch
}

func (h *hub) unsubscribe(ch chan Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

// last is the newest event (zero when none yet).
func (h *hub) last() (Event, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) == 0 {
		return Event{}, false
	}
	return h.ring[len(h.ring)-1], true
}
