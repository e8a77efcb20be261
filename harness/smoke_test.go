package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/results"
)

// TestBenchQuick is the end-to-end smoke test: the real binary runs
// `offload bench --quick` over every strategy and scenario, and the test
// checks the contract fields of results.json and the lessons the bench
// exists to show, as numbers.
func TestBenchQuick(t *testing.T) {
	if dir := os.Getenv("OFFLOAD_BENCH_RESULTS"); dir != "" {
		// Judge an existing results directory instead of running the bench.
		judge(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("the quick bench takes about two minutes")
	}
	itest.NeedRedis(t)
	bin := itest.Binary(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--quick", "--out", out)
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	began := time.Now()
	err := cmd.Run()
	t.Logf("offload bench --quick took %v", time.Since(began).Round(time.Second))
	if err != nil {
		t.Fatalf("offload bench --quick: %v\n%s", err, stderr.String())
	}
	judge(t, filepath.Join(out, "latest"))
}

// judge checks a results directory: contract fields, raw histograms, lessons.
func judge(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkContract(t, raw)
	f, err := results.Read(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "results.csv")); err != nil {
		t.Error(err)
	}
	checkHistograms(t, dir, f)
	checkCapacity(t, raw)
	checkLessons(t, lessonRuns(f))
}

// checkContract asserts results.json's contract fields on the raw JSON, so a
// renamed field fails here even if the Go struct still reads.
func checkContract(t *testing.T, raw []byte) {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "env", "runs"} {
		if _, ok := f[k]; !ok {
			t.Errorf("results.json lacks %q", k)
		}
	}
	env, _ := f["env"].(map[string]any)
	for _, k := range []string{"git_sha", "go", "cpu_model", "cores", "redis_version", "flags", "seed", "start_time"} {
		if _, ok := env[k]; !ok {
			t.Errorf("env lacks %q", k)
		}
	}
	runs, _ := f["runs"].([]any)
	if len(runs) < 6*len([]string{"steady", "cpu", "burst", "worker-crash", "web-crash", "broker-restart", "mail-outage", "scale"}) {
		t.Errorf("%d runs: want every strategy through every scenario", len(runs))
	}
	fields := []string{"strategy", "scenario", "offered_rps", "sent", "status", "accepted", "delivered", "lost",
		"duplicates", "http_latency_ms", "e2e_latency_ms", "throughput_rps", "lag_ms", "recovery_s", "cpu_s",
		"timeseries", "faults", "na_reason"}
	for i, r := range runs {
		m, _ := r.(map[string]any)
		for _, k := range fields {
			if _, ok := m[k]; !ok {
				t.Errorf("run %d (%v/%v) lacks %q", i, m["strategy"], m["scenario"], k)
			}
		}
		for _, k := range []string{"http_latency_ms", "e2e_latency_ms"} {
			p, _ := m[k].(map[string]any)
			for _, q := range []string{"p50", "p90", "p99", "p999", "max"} {
				if _, ok := p[q]; !ok {
					t.Errorf("run %d %s lacks %q", i, k, q)
				}
			}
		}
	}
}

func checkHistograms(t *testing.T, dir string, f *results.File) {
	t.Helper()
	for _, r := range f.Runs {
		if r.NAReason != "" || r.Scenario == "capacity" { // a ladder keeps each step's percentiles instead
			continue
		}
		hs, err := results.ReadHistograms(dir, r)
		if err != nil {
			t.Errorf("%s/%s: %v", r.Strategy, r.Scenario, err)
			continue
		}
		if h := hs[results.HistHTTP]; h == nil || h.TotalCount() != r.HTTPLatencyMS.Count {
			t.Errorf("%s/%s: raw http histogram does not match the summary", r.Strategy, r.Scenario)
		}
	}
}
