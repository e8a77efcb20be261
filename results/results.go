// Package results is the harness's output format, results.json: the contract
// between the instrument (harness), the reports (reports) and anyone who
// wants to check a figure. Every number a report shows is read from here or
// recomputed from the raw histograms kept beside it.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Schema is bumped whenever a field changes meaning or is removed. v2 adds
// the capacity scenario (Run.Capacity); a v1 file reads as one without it.
const Schema = "offload.results/v2"

// readable are the schemas Read accepts: this one and the older ones whose
// fields kept their meaning.
var readable = []string{"offload.results/v1", Schema}

// File is results.json.
type File struct {
	Schema string `json:"schema"`
	Env    Env    `json:"env"`
	Runs   []Run  `json:"runs"`
}

// Env is what the numbers were measured on and with.
type Env struct {
	GitSHA       string    `json:"git_sha"`
	GoVersion    string    `json:"go"`
	CPUModel     string    `json:"cpu_model"`
	OS           string    `json:"goos,omitempty"` // runtime.GOOS, GOARCH of the bench binary
	Arch         string    `json:"goarch,omitempty"`
	Cores        int       `json:"cores"`
	RedisVersion string    `json:"redis_version"`
	Hostname     string    `json:"hostname,omitempty"`
	Flags        []string  `json:"flags"` // the bench command line
	Seed         int64     `json:"seed"`
	Start        time.Time `json:"start_time"`
	End          time.Time `json:"end_time,omitzero"`
	Quick        bool      `json:"quick"`
	Target       string    `json:"target,omitempty"` // --target URL when measuring an external server
	Sink         *SinkEnv  `json:"sink,omitempty"`   // the mail provider model every run sent to
	// Placement is the CPUs the load side (the bench: generator and mail
	// sink) and the system under test were pinned to, "LOAD/SUT" as
	// --cpus reads it, or "off".
	Placement string `json:"placement"`
}

// SinkEnv is the mail provider model the bench's sink played: its latency
// in the form --sink-latency reads ("3ms+10ms": a 3 ms round trip on MAIL
// and on RCPT, then 10 ms after DATA), and its limits (0: none). A
// scenario that changes a limit while it runs says so in its own run.
type SinkEnv struct {
	Latency   string  `json:"latency"`
	MaxConns  int     `json:"max_conns"`
	RateLimit float64 `json:"rate_limit"` // mails per second
}

// Run is one strategy through one scenario.
type Run struct {
	Strategy string `json:"strategy"`
	Scenario string `json:"scenario"`
	Loop     string `json:"loop"`              // concurrency model of the web process
	Variant  string `json:"variant,omitempty"` // e.g. "transport=zmq", "workers=4"
	Workers  int    `json:"workers,omitempty"`
	// Concurrency is the mail sends in flight per sending process (web
	// side or worker): --concurrency, or the strategy's default. 0: no cap
	// (foreground and fireforget by default) or the queue's autoscaler.
	Concurrency int     `json:"concurrency"`
	OfferedRPS  float64 `json:"offered_rps"`
	DurationS   float64 `json:"duration_s"` // measured phase

	// NAReason is set when the scenario makes no sense for the strategy
	// (every other field is then zero); Invalid when the run was measured
	// but its timing must not be reported (the generator fell behind its
	// schedule, requests went unaccounted, Ctrl-C): its counts (loss,
	// duplicates) stay exact. Valid is true exactly when both are empty;
	// Write sets it.
	NAReason string `json:"na_reason"`
	Valid    bool   `json:"valid"`
	Invalid  string `json:"invalid_reason"`
	Repeat   int    `json:"repeat"` // 0-based, of --repeat N

	Sent            int64          `json:"sent"`
	Status          map[string]int `json:"status"` // HTTP status code -> count; "error" for transport errors
	TransportErrors int64          `json:"transport_errors"`
	Accepted        int64          `json:"accepted"` // 2xx
	Rejected        int64          `json:"rejected"` // 4xx/5xx: not a loss, the client knows
	Delivered       int64          `json:"delivered"`
	Lost            int64          `json:"lost"`       // accepted, never delivered by the end of the drain
	Duplicates      int64          `json:"duplicates"` // deliveries beyond the first, of accepted jobs
	Unexpected      int64          `json:"unexpected"` // deliveries of ids the harness never sent or never saw accepted

	HTTPLatencyMS    Percentiles  `json:"http_latency_ms"`    // due -> response (open loop)
	ServiceLatencyMS Percentiles  `json:"service_latency_ms"` // sent -> response
	E2ELatencyMS     Percentiles  `json:"e2e_latency_ms"`     // due -> first delivery at the sink
	ProbeLatencyMS   Percentiles  `json:"probe_latency_ms"`   // /healthz probes, due -> response
	Hey              *HeyResult   `json:"hey,omitempty"`      // closed-loop comparison (steady, cpu)
	ThroughputRPS    Throughput   `json:"throughput_rps"`
	LagMS            Lag          `json:"lag_ms"` // web process loop lag during the measured phase
	SchedLatencyMS   Percentiles  `json:"sched_latency_ms"`
	RecoveryS        *float64     `json:"recovery_s"` // null when no fault, or when it never recovered (see RecoveryNote)
	RecoveryNote     string       `json:"recovery_note,omitempty"`
	CPUS             float64      `json:"cpu_s"` // all processes of the strategy
	CPUPer1kS        float64      `json:"cpu_per_1k_delivered_s"`
	PeakRSSMB        float64      `json:"peak_rss_mb"`
	Processes        []ProcessUse `json:"processes"`
	SendDelayMS      Percentiles  `json:"send_delay_ms"` // due -> the request written to its connection
	Faults           []Fault      `json:"faults"`
	Timeseries       []Point      `json:"timeseries"`
	Histograms       string       `json:"histograms,omitempty"` // file (relative to results.json) holding the raw HDR histograms
	Notes            []string     `json:"notes,omitempty"`

	// Added by the harness (additive): cpu jobs leave no mail, so they are
	// accepted but never expected at the sink and never counted lost.
	CPUJobs     int64   `json:"cpu_jobs_accepted,omitempty"`
	DrainS      float64 `json:"drain_s,omitempty"`     // how long the drain phase took
	WallS       float64 `json:"wall_s,omitempty"`      // the whole run: set-up to tear-down
	Interrupted bool    `json:"interrupted,omitempty"` // Ctrl-C during this run: numbers cover what was measured

	// The instrument's account of itself. Fired is what the generator
	// fired; Sent is the outcomes recorded, and a run where they differ is
	// invalid. Timeouts (of TransportErrors) are in the HTTP tail at their
	// done - due. Canceled requests were cut off by Ctrl-C, InFlight jobs
	// were accepted but not yet delivered when it came: neither is lost.
	Fired            int64   `json:"fired"`
	Timeouts         int64   `json:"timeouts"`
	Canceled         int64   `json:"canceled,omitempty"`
	InFlight         int64   `json:"in_flight,omitempty"`
	SendDelayBoundMS float64 `json:"send_delay_bound_ms,omitempty"` // p99 of send_delay_ms above this: invalid
	// StealMS is CPU time the hypervisor gave other guests during the
	// measured phase (/proc/stat, all CPUs); GCPauseMaxMS the bench's own
	// longest GC pause. InvalidCause names which, if either, made the
	// generator late in a refused run ("steal: ...", "GC: ...", or "the
	// generator behind: ...").
	StealMS           float64 `json:"steal_ms"`
	GCPauseMaxMS      float64 `json:"gc_pause_max_ms"`
	InvalidCause      string  `json:"invalid_cause,omitempty"`
	Generators        int     `json:"generators,omitempty"`       // generator processes (0: in the bench process)
	GeneratorCPUS     float64 `json:"generator_cpu_s"`            // the generator's own CPU over the measured phase
	GeneratorCPUShare float64 `json:"generator_cpu_share"`        // of the machine: generator_cpu_s / (duration_s x cores)
	RecoveryBoundS    float64 `json:"recovery_bound_s,omitempty"` // load kept up this long after the repair, waiting for recovery
	// DeliveryNA says why deliveries were not accounted (an external
	// target that mails elsewhere): delivered, lost and e2e are then
	// unknown, not zero.
	DeliveryNA string `json:"delivery_na,omitempty"`

	// Style is how reports draw the run's series, copied from the
	// strategy catalog so that reports need nothing but this file.
	Style *Style `json:"style,omitempty"`

	Capacity *Capacity `json:"capacity,omitempty"` // the capacity scenario's ladder
}

// Style is a series' place and look in reports.
type Style struct {
	Order int       `json:"order"` // the strategy's place in the talk's order, 0 first
	Label string    `json:"label"` // legend and table name, e.g. "pubsub (transport=zmq)"
	Color string    `json:"color"` // "#rrggbb"
	Dash  []float64 `json:"dash,omitempty"`
}

// Percentiles of a latency distribution in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// HeyResult is what rakyll/hey (closed loop) reported for the same scenario.
type HeyResult struct {
	Requests    int64       `json:"requests"`
	Concurrency int         `json:"concurrency"`
	LatencyMS   Percentiles `json:"latency_ms"` // hey's own percentiles (it has no p99.9; max is its slowest)
	RPS         float64     `json:"rps"`
	Errors      int64       `json:"errors"`
	Non2xx      int64       `json:"non_2xx,omitempty"` // answers that came but were not 2xx
	// Reported is hey's own percentile table (its p99 is the sample one
	// rank above nearest-rank, so the max below 100 samples); LatencyMS is
	// read off hey's raw latencies with the open-loop column's HDR
	// arithmetic, so the two columns differ only in how load was offered.
	Reported *Percentiles `json:"reported_latency_ms,omitempty"`
}

// Throughput per second over the measured phase.
type Throughput struct {
	Offered   float64 `json:"offered"`
	Accepted  float64 `json:"accepted"`
	Delivered float64 `json:"delivered"`
}

// Lag is the web process's loop lag (lagmonitor) during the measured phase.
type Lag struct {
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Blocks int64   `json:"blocks"`
}

// ProcessUse is one process's cost.
type ProcessUse struct {
	Role      string  `json:"role"` // web, worker-1, redis, supervisor ...
	CPUS      float64 `json:"cpu_s"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// Fault is one injected fault, times relative to the start of the measured phase.
type Fault struct {
	Kind     string  `json:"kind"` // kill-worker, kill-web, restart-redis, failover, partition, mail-outage
	Target   string  `json:"target,omitempty"`
	StartS   float64 `json:"start_s"`
	EndS     float64 `json:"end_s"` // the repair: process back, broker back, sink healthy
	Detail   string  `json:"detail,omitempty"`
	Injected bool    `json:"injected"`
}

// Point is one interval of the time series (100 ms by default), relative to
// the start of the measured phase; counts are per interval, not per second.
type Point struct {
	T         float64 `json:"t"` // seconds
	Offered   int64   `json:"offered"`
	Accepted  int64   `json:"accepted"`
	Delivered int64   `json:"delivered"`
	Errors    int64   `json:"errors"`
	Backlog   int64   `json:"backlog"` // accepted so far minus delivered so far
	LagMaxMS  float64 `json:"lag_max_ms"`
}

// Write saves f as indented JSON.
func Write(path string, f *File) error {
	for i := range f.Runs {
		f.Runs[i].Valid = f.Runs[i].NAReason == "" && f.Runs[i].Invalid == ""
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Read loads results.json and checks its schema.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if !slices.Contains(readable, f.Schema) {
		return nil, fmt.Errorf("%s: schema %q, this offload reads %s", path, f.Schema, strings.Join(readable, ", "))
	}
	return &f, nil
}

// OKShare is the share of hey's answers that were 2xx: a server shedding
// load answers fast, and those answers are not capacity.
func (h HeyResult) OKShare() float64 {
	if h.Requests <= 0 {
		return 0
	}
	ok := h.Requests - h.Errors - h.Non2xx
	return max(0, float64(ok)) / float64(h.Requests)
}
