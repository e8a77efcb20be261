package liveview

import (
	"strings"
	"testing"
)

func TestReadWebMetrics(t *testing.T) {
	text := `# HELP offload_http_requests_total x
offload_http_requests_total{code="202",route="POST /jobs"} 7
offload_http_requests_total{code="400",route="POST /jobs"} 2
offload_http_requests_total{code="200",route="GET /healthz"} 50
offload_queue_length{queue="email"} 3
offload_queue_length{queue="other"} 1
offload_queue_oldest_wait_seconds{queue="email"} 2.5
offload_queue_oldest_wait_seconds{queue="other"} 0.5
offload_eventbus_group_pending{stream="s",group="g, with comma \"q\""} 4
garbage line
offload_pubsub_zmq_unacked NaN-ish
`
	c := readWebMetrics(parseProm(strings.NewReader(text)))
	for _, tt := range []struct {
		name      string
		got, want float64
	}{
		{"offered", c.offered, 9},
		{"accepted", c.accepted, 7},
		{"queue_length", c.broker["queue_length"], 4},
		{"oldest_wait_s is the oldest", c.broker["oldest_wait_s"], 2.5},
		{"stream_pending", c.broker["stream_pending"], 4},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if _, ok := c.broker["in_flight"]; ok {
		t.Error("an unreadable value became a number")
	}
}

func TestParseLabelsEscapes(t *testing.T) {
	m := parseLabels(`a="1",b="x \"y\", z"`)
	if m["a"] != "1" || m["b"] != `x "y", z` {
		t.Fatalf("labels = %q", m)
	}
}
