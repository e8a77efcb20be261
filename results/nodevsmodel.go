package results

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// NodeVsModel is `offload node-vs-model`: the talk's programs on real
// Node.js beside offload's own servers under the node loop model, on the
// same machine, sink, CPUs and worker limits. The model is only as good
// as its agreement with these rows.
type NodeVsModel struct {
	Env         Env    `json:"env"`
	NodeVersion string `json:"node_version"`
	// Placement is the CPUs each side got: the load (generator, sink,
	// bench) and the system under test (web, workers, redis-server).
	Placement string `json:"placement"`
	Accept    string `json:"accept"` // how accept capacity was measured
	Sink      string `json:"sink"`   // the provider model both sides mailed
	Queue     string `json:"queue"`  // the worker limits both queues ran with
	// BareBaselineRPS is offload's baseline handler on plain net/http
	// (--loop go): what the machine accepts with no model at all.
	BareBaselineRPS float64          `json:"bare_baseline_rps"`
	Rows            []NodeVsModelRow `json:"rows"`
}

// NodeVsModelRow is one strategy on both sides.
type NodeVsModelRow struct {
	Strategy string          `json:"strategy"`
	Node     NodeVsModelSide `json:"node"`
	Model    NodeVsModelSide `json:"model"`
}

// NodeVsModelSide is one server's figures.
type NodeVsModelSide struct {
	Program string `json:"program"` // what ran: "node 1-foreground.js", "offload serve --strategy foreground --loop node"
	// AcceptRPS is the closed-loop maximum; AcceptShare is it over the
	// same runtime's baseline (Node's own, or offload's under --loop node).
	AcceptRPS   float64 `json:"accept_rps"`
	AcceptShare float64 `json:"accept_share"`
	// DeliveryRPS is first deliveries per second at the sink during the
	// accept measurement (0 for the baseline, which sends nothing).
	DeliveryRPS float64 `json:"delivery_rps"`
	// The cpu scenario (offload bench --target URL --scenarios cpu):
	// HTTP p99 from due, and the web loop's lag p99 and max from its
	// /debug/lag. The max is what a CPU job on the loop shows: a 400 ms
	// job is one late probe among hundreds, below the p99.
	CPUHTTPP99MS float64 `json:"cpu_http_p99_ms"`
	CPULagP99MS  float64 `json:"cpu_lag_p99_ms"`
	CPULagMaxMS  float64 `json:"cpu_lag_max_ms"`
	Errors       int64   `json:"errors"`
	Note         string  `json:"note,omitempty"`
}

// Agreement bounds: a figure agrees when model ÷ Node is within
// [AgreeLow, AgreeHigh]; latencies under AgreeSmallMS on both sides are
// compared by difference instead, within AgreeDiffMS, since a ratio of
// two small numbers measures noise.
const (
	AgreeLow     = 0.67
	AgreeHigh    = 1.5
	AgreeSmallMS = 10.0
	AgreeDiffMS  = 5.0
)

// Agrees compares one figure; latency says whether the small-value
// difference rule applies. It returns the comparison as text ("1.12×",
// "+2.1 ms") and whether it agrees; "–" when either side is missing.
func Agrees(model, node float64, latency bool) (string, bool) {
	if model <= 0 || node <= 0 || math.IsNaN(model) || math.IsNaN(node) {
		return "–", false
	}
	if latency && model < AgreeSmallMS && node < AgreeSmallMS {
		d := model - node
		return fmt.Sprintf("%+.1f ms", d), math.Abs(d) <= AgreeDiffMS
	}
	r := model / node
	return fmt.Sprintf("%.2f×", r), r >= AgreeLow && r <= AgreeHigh
}

// ReadNodeVsModel reads a node-vs-model.json.
func ReadNodeVsModel(path string) (*NodeVsModel, error) {
	var n NodeVsModel
	if err := readJSON(path, "node-vs-model results", &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// WriteNodeVsModel writes n as indented JSON.
func WriteNodeVsModel(path string, n *NodeVsModel) error {
	return writeJSON(path, "node-vs-model results", n)
}

// readJSON reads one curated data file into v; what names it in errors.
func readJSON(path, what string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s %s: %w", what, path, err)
	}
	return nil
}

// writeJSON writes v as indented JSON, as every curated data file is.
func writeJSON(path, what string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}
