package eventloop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The Go constants are copies of a measurement on real Node: they must say
// what docs/data/node-costs.json says, to the nanosecond.
func TestNodeCostsMatchTheMeasurement(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "data", "node-costs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Command string   `json:"command"`
		Commit  string   `json:"commit"`
		Date    string   `json:"date"`
		HTTP    *float64 `json:"http_request_cpu_us"`
		Redis   *float64 `json:"ioredis_command_cpu_us"`
		Mail    *float64 `json:"nodemailer_send_cpu_us"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("node-costs.json: %v", err)
	}
	if m.Command == "" || m.Commit == "" || m.Date == "" {
		t.Errorf("node-costs.json lacks its command, commit or date: %q %q %q", m.Command, m.Commit, m.Date)
	}
	for _, c := range []struct {
		field string
		us    *float64
		got   time.Duration
	}{
		{"http_request_cpu_us", m.HTTP, CostHTTPRequest},
		{"ioredis_command_cpu_us", m.Redis, CostRedisCommand},
		{"nodemailer_send_cpu_us", m.Mail, CostMailSend},
	} {
		if c.us == nil {
			t.Errorf("node-costs.json has no %s", c.field)
			continue
		}
		if want := time.Duration(*c.us*1000 + 0.5); c.got != want {
			t.Errorf("%s is %v in node-costs.json, %v in nodecost.go: copy the measurement", c.field, want, c.got)
		}
	}
}

// Charge burns only under node: go and threads pay inside the calls.
func TestChargeOnlyUnderNode(t *testing.T) {
	l := NewLoop(1)
	defer l.Close()
	for _, rt := range []Runtime{inline{}} { // the runtime of go and threads
		if _, ok := rt.(charger); ok {
			t.Errorf("%T is charged for Node's work", rt)
		}
	}
	Charge(l, 3*time.Millisecond)
	if got := l.stats.charged.Load(); got != int64(3*time.Millisecond) {
		t.Fatalf("loop charged %v, want 3ms", time.Duration(got))
	}
}
