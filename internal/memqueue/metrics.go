package memqueue

import "github.com/prometheus/client_golang/prometheus"

// Collector exports a worker's Stats as Prometheus metrics. stats may read
// a local Queue or a copy relayed from another process (localipc's web
// server shows its worker's numbers this way).
type Collector struct {
	stats func() Stats
	descs map[string]*prometheus.Desc
}

// NewCollector labels every metric with strategy.
func NewCollector(strategy string, stats func() Stats) *Collector {
	labels := prometheus.Labels{"strategy": strategy}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("offload_worker_"+name, help, nil, labels)
	}
	return &Collector{stats: stats, descs: map[string]*prometheus.Desc{
		"queued":    d("queue_length", "Jobs waiting in the worker's memory for a slot or the throttle."),
		"inflight":  d("in_flight", "Jobs being performed."),
		"retrying":  d("retrying", "Jobs that failed and wait for their backoff."),
		"received":  d("received_total", "Jobs the worker took into memory."),
		"retries":   d("retries_total", "Retries scheduled after a failed attempt."),
		"delivered": d("delivered_total", "Jobs performed successfully."),
		"failed":    d("failed_total", "Jobs given up on after the last attempt or a permanent error."),
		"dropped":   d("dropped_total", "Jobs refused because the in-memory queue was full."),
	}}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	g := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, v) }
	n := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.CounterValue, v) }
	g("queued", float64(s.Queued))
	g("inflight", float64(s.InFlight))
	g("retrying", float64(s.Retrying))
	n("received", float64(s.Received))
	n("retries", float64(s.Retries))
	n("delivered", float64(s.Delivered))
	n("failed", float64(s.Failed))
	n("dropped", float64(s.Dropped))
}
