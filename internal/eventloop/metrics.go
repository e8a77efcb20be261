package eventloop

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// loopStats is what the node loop tells /metrics about its two paths: how
// long pool work waits for a thread (the pool's cap shows here first), how
// much is queued or in flight, and how much CPU the loop was charged for
// Node's own work.
type loopStats struct {
	poolWait   prometheus.Histogram
	poolQueued atomic.Int64
	poolRuns   atomic.Int64
	ioInFlight atomic.Int64
	charged    atomic.Int64 // ns of CPU burnt on the loop by Charge
	collectors []prometheus.Collector
}

func newLoopStats() *loopStats {
	s := &loopStats{
		poolWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "offload_loop_pool_wait_seconds",
			Help:    "Time work handed to the node loop's thread pool (Runtime.Pool) waited for a free pool thread.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 22),
		}),
	}
	s.collectors = []prometheus.Collector{
		s.poolWait,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "offload_loop_pool_queued",
			Help: "Pool work waiting for a free pool thread right now.",
		}, func() float64 { return float64(s.poolQueued.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "offload_loop_io_in_flight",
			Help: "Network I/O (Runtime.IO) started from the loop and not yet completed.",
		}, func() float64 { return float64(s.ioInFlight.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "offload_loop_charged_cpu_seconds_total",
			Help: "CPU burnt on the loop for work Node does on its own thread (HTTP parsing, JSON, client libraries) that Go does elsewhere.",
		}, func() float64 { return float64(s.charged.Load()) / 1e9 }),
	}
	return s
}

// Describe and Collect make the node loop a prometheus.Collector, so the
// server registers it beside the lag monitor.
func (l *Loop) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range l.stats.collectors {
		c.Describe(ch)
	}
}

func (l *Loop) Collect(ch chan<- prometheus.Metric) {
	for _, c := range l.stats.collectors {
		c.Collect(ch)
	}
}

// PoolRuns is how many pieces of work the thread pool has started: how a
// check tells work handed to the pool from work on the I/O path.
func (l *Loop) PoolRuns() int64 { return l.stats.poolRuns.Load() }
