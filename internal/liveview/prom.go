package liveview

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// sample is one line of Prometheus' text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseProm reads the text exposition format, skipping what it cannot
// read: the page shows what it can rather than nothing.
func parseProm(r io.Reader) []sample {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var s sample
		rest := line
		if i := strings.IndexAny(line, "{ "); i > 0 && line[i] == '{' {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			s.name, s.labels, rest = line[:i], parseLabels(line[i+1:j]), line[j+1:]
		} else if i > 0 {
			s.name, rest = line[:i], line[i:]
		} else {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

func parseLabels(s string) map[string]string {
	m := map[string]string{}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return m
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			val.WriteByte(s[i])
		}
		m[key] = val.String()
		s = strings.TrimLeft(s[min(i+1, len(s)):], ", ")
	}
	return m
}

// brokerMetrics maps the strategies' own gauges to the page's names for
// the broker's view of the backlog. Values of one name are summed over
// their labels, except ages, where the oldest counts.
var brokerMetrics = map[string]string{
	"offload_queue_length":                          "queue_length",
	"offload_queue_inflight":                        "in_flight",
	"offload_queue_oldest_wait_seconds":             "oldest_wait_s",
	"offload_queue_delayed":                         "delayed",
	"offload_queue_retries_total":                   "retries",
	"offload_queue_failed":                          "dead_letters",
	"offload_queue_workers_alive":                   "workers",
	"offload_eventbus_group_lag":                    "stream_undelivered",
	"offload_eventbus_group_pending":                "stream_pending",
	"offload_eventbus_group_oldest_pending_seconds": "oldest_wait_s",
	"offload_eventbus_dead_letters":                 "dead_letters",
	"offload_eventbus_group_consumers":              "workers",
	"offload_pubsub_zmq_queue_length":               "queue_length",
	"offload_pubsub_zmq_unacked":                    "in_flight",
	"offload_pubsub_zmq_requeued_total":             "retries",
	"offload_pubsub_zmq_workers":                    "workers",
}

// webCounts is what the page reads off the web process' /metrics.
type webCounts struct {
	offered, accepted float64
	broker            map[string]float64
}

func readWebMetrics(samples []sample) webCounts {
	c := webCounts{broker: map[string]float64{}}
	for _, s := range samples {
		if s.name == "offload_http_requests_total" && s.labels["route"] == "POST /jobs" {
			c.offered += s.value
			if strings.HasPrefix(s.labels["code"], "2") {
				c.accepted += s.value
			}
			continue
		}
		key, ok := brokerMetrics[s.name]
		if !ok {
			continue
		}
		if strings.HasSuffix(key, "_s") {
			c.broker[key] = max(c.broker[key], s.value)
		} else {
			c.broker[key] += s.value
		}
	}
	return c
}
