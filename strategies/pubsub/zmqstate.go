package pubsub

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/joblog"
	"github.com/offload/offload/strategies"
)

// stateLog is the web side's memory of its jobs, with the worker each was
// last sent to.
type stateLog struct {
	*joblog.Log[strategies.JobState]
}

func newStateLog(n int) stateLog { return stateLog{strategies.NewJobLog(n)} }

// set is called under the broker's lock, so the read and the write are one
// step.
func (l stateLog) set(id string, s strategies.Status, worker, errMsg string) {
	st, _ := l.Get(id)
	st.ID, st.Status, st.Error, st.Updated = id, s, errMsg, time.Now()
	if s == strategies.StatusRunning {
		st.Attempts++ // sends to a worker
	}
	if worker != "" {
		st.Extra = map[string]any{"worker": worker}
	}
	l.Set(id, st)
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
