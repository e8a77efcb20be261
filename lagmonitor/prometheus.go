package lagmonitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	lagDesc = prometheus.NewDesc("offload_loop_lag_seconds",
		"How late the loop ran a probe timer, since the last reset.", nil, nil)
	blocksDesc = prometheus.NewDesc("offload_loop_blocks_total",
		"Probes at least the block threshold late, since the last reset.", nil, nil)
	schedDesc = prometheus.NewDesc("offload_sched_latency_seconds",
		"Go scheduler latency (runtime/metrics /sched/latencies) since the last reset.", []string{"quantile"}, nil)
)

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- blocksDesc
	ch <- schedDesc
}

// Collect implements prometheus.Collector.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	s := m.Snapshot()
	sec := func(ms float64) float64 { return ms / 1000 }
	ch <- prometheus.MustNewConstSummary(lagDesc, uint64(s.Count), sec(s.Mean)*float64(s.Count), map[float64]float64{
		0.5: sec(s.P50), 0.9: sec(s.P90), 0.99: sec(s.P99), 0.999: sec(s.P999), 1: sec(s.Max),
	})
	ch <- prometheus.MustNewConstMetric(blocksDesc, prometheus.CounterValue, float64(s.Blocks))
	for q, v := range map[string]float64{"0.5": s.Sched.P50, "0.9": s.Sched.P90, "0.99": s.Sched.P99, "1": s.Sched.Max} {
		ch <- prometheus.MustNewConstMetric(schedDesc, prometheus.GaugeValue, sec(v), q)
	}
}

var _ prometheus.Collector = (*Monitor)(nil)
