package eventbus

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Collector reads the streams' and groups' state from Redis at each scrape,
// so /metrics shows the lag of every handler without any consumer having to
// report it (and shows it even when every consumer is dead).
type Collector struct {
	rdb  redis.UniversalClient
	keys Keys

	length, lag, pending, oldest, consumers, dead, up *prometheus.Desc
}

// NewCollector returns a prometheus.Collector over the event bus in rdb.
func NewCollector(rdb redis.UniversalClient, keys Keys) *Collector {
	sg := []string{"stream", "node", "group"}
	return &Collector{
		rdb: rdb, keys: keys,
		length:    prometheus.NewDesc("offload_eventbus_stream_length", "Entries retained in the stream; node is the master that holds it.", []string{"stream", "node"}, nil),
		lag:       prometheus.NewDesc("offload_eventbus_group_lag", "Entries not yet delivered to the group.", sg, nil),
		pending:   prometheus.NewDesc("offload_eventbus_group_pending", "Entries delivered to the group and not yet acknowledged.", sg, nil),
		oldest:    prometheus.NewDesc("offload_eventbus_group_oldest_pending_seconds", "Idle time of the group's lowest pending entry.", sg, nil),
		consumers: prometheus.NewDesc("offload_eventbus_group_consumers", "Consumers known to the group.", sg, nil),
		dead:      prometheus.NewDesc("offload_eventbus_dead_letters", "Entries in the group's dead-letter stream.", []string{"group"}, nil),
		up:        prometheus.NewDesc("offload_eventbus_redis_up", "1 when the last scrape could read the streams.", nil, nil),
	}
}

func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.length, c.lag, c.pending, c.oldest, c.consumers, c.dead, c.up} {
		ch <- d
	}
}

func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// One partition's master being away (a failover) still leaves the
	// others' gauges; up says 0 until every partition reads again.
	stats, err := Stats(ctx, c.rdb, c.keys)
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	dead := map[string]int64{}
	for _, s := range stats {
		if s.Error != "" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(s.Length), s.Stream, s.Node)
		for _, g := range s.Groups {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(g.Lag), s.Stream, s.Node, g.Name)
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(g.Pending), s.Stream, s.Node, g.Name)
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, g.OldestPendingIdle.Seconds(), s.Stream, s.Node, g.Name)
			ch <- prometheus.MustNewConstMetric(c.consumers, prometheus.GaugeValue, float64(g.Consumers), s.Stream, s.Node, g.Name)
			dead[g.Name] = g.DeadLetters
		}
	}
	for g, n := range dead {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(n), g)
	}
}

// Collector returns this consumer's own counters for /metrics (the bus
// Collector reads Redis; these only the consumer knows), labeled with its
// group and name.
func (c *Consumer) Collector() prometheus.Collector { return consumerCollector{c} }

type consumerCollector struct{ c *Consumer }

func consumerDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("offload_eventbus_consumer_"+name, help, []string{"group", "consumer"}, nil)
}

var (
	descRetries = consumerDesc("retries_total", "In-process retries of temporary handler failures (attempts after a delivery's first).")
	descFailed  = consumerDesc("failures_total", "Deliveries whose handler failed for good (left pending for claim or dead letter).")
	descAcked   = consumerDesc("acked_total", "Events handled and acknowledged.")
	descClaimed = consumerDesc("claimed_total", "Pending entries taken over with XAUTOCLAIM.")
	descDead    = consumerDesc("dead_lettered_total", "Entries this consumer moved to the dead-letter stream.")
)

func (cc consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRetries, descFailed, descAcked, descClaimed, descDead} {
		ch <- d
	}
}

func (cc consumerCollector) Collect(ch chan<- prometheus.Metric) {
	n, g, name := cc.c.Counts(), cc.c.cfg.Group, cc.c.cfg.Consumer
	for d, v := range map[*prometheus.Desc]int64{descRetries: n.Retried, descFailed: n.Failed, descAcked: n.Acked, descClaimed: n.Claimed, descDead: n.DeadLettered} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), g, name)
	}
}
