package pubsub

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/strategies"
)

// stateLog remembers each job's last state, bounded: live jobs always,
// finished ones the last n.
type stateLog struct {
	n        int
	states   map[string]strategies.JobState
	finished []string
}

func newStateLog(n int) *stateLog {
	return &stateLog{n: n, states: map[string]strategies.JobState{}}
}

func (l *stateLog) set(id string, s strategies.Status, worker, errMsg string) {
	st := l.states[id]
	st.ID, st.Status, st.Error, st.Updated = id, s, errMsg, time.Now()
	if s == strategies.StatusRunning {
		st.Attempts++ // sends to a worker
	}
	if worker != "" {
		st.Extra = map[string]any{"worker": worker}
	}
	l.states[id] = st
	if s == strategies.StatusDone || s == strategies.StatusFailed {
		l.finished = append(l.finished, id)
		if len(l.finished) > l.n {
			delete(l.states, l.finished[0])
			l.finished = l.finished[1:]
		}
	}
}

func (l *stateLog) get(id string) (strategies.JobState, bool) {
	st, ok := l.states[id]
	return st, ok
}

type brokerMetrics struct {
	sent, requeued, lateAcks, refused prometheus.Counter
	acked                             *prometheus.CounterVec
}

func (m *brokerMetrics) register(reg prometheus.Registerer, b *broker) error {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "offload_pubsub_zmq_" + name, Help: help})
	}
	m.sent = c("sent_total", "Jobs sent to a worker (re-sends included).")
	m.requeued = c("requeued_total", "Unacked jobs put back in the queue because their worker went silent.")
	m.lateAcks = c("late_acks_total", "Acks for jobs already re-queued: each is a likely duplicate delivery.")
	m.refused = c("refused_total", "Jobs answered 503 because the queue was at its high-water mark.")
	m.acked = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "offload_pubsub_zmq_acked_total", Help: "Jobs workers finished, by result."}, []string{"result"})
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "offload_pubsub_zmq_" + name, Help: help}, f)
	}
	cs := []prometheus.Collector{m.sent, m.requeued, m.lateAcks, m.refused, m.acked,
		gauge("queue_length", "Jobs waiting in the web process for a worker with credit.", func() float64 { q, _, _ := b.counts(); return float64(q) }),
		gauge("unacked", "Jobs sent to workers and not yet acked.", func() float64 { _, i, _ := b.counts(); return float64(i) }),
		gauge("workers", "Workers heard from within the expiry.", func() float64 { _, _, w := b.counts(); return float64(w) }),
	}
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
