package docnums

import (
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/results"
)

func data() *results.File {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return &results.File{Schema: results.Schema,
		Env: results.Env{GitSHA: "0123456789abcdef", CPUModel: "AMD EPYC", Cores: 2, OS: "linux", Arch: "amd64", RedisVersion: "7.0.15",
			Flags: []string{"/tmp/x/offload", "bench", "--out", "/tmp/o", "--quick"}, Start: start, End: start.Add(8 * time.Minute)},
		Runs: []results.Run{
			{Strategy: "queue", Scenario: "steady", Loop: "node", Valid: true, HTTPLatencyMS: results.Percentiles{P99: 6.04}, Accepted: 400},
			{Strategy: "queue", Scenario: "web-crash", Loop: "node", Valid: true, Accepted: 400, Lost: 3},
			{Strategy: "foreground", Scenario: "cpu", Loop: "go", Valid: true, LagMS: results.Lag{Max: 10.6}},
			{Strategy: "foreground", Scenario: "cpu", Loop: "node", Valid: true, LagMS: results.Lag{Max: 399.4}},
			// The generator fell behind: its counts stand, its timing does not.
			{Strategy: "queue", Scenario: "burst", Loop: "node", HTTPLatencyMS: results.Percentiles{P99: 80}, Accepted: 700, Lost: 2},
			{Strategy: "fireforget", Scenario: "worker-crash", NAReason: "no worker process"},
		}}
}

func TestRender(t *testing.T) {
	for _, c := range []struct {
		page, want, err string
	}{
		{"p99 <!-- n:queue steady http_latency_ms.p99 -->9<!-- /n --> ms", "p99 <!-- n:queue steady http_latency_ms.p99 -->6<!-- /n --> ms", ""},
		{"<!-- n:foreground cpu lag_ms.max -->x<!-- /n --> and <!-- n:foreground cpu lag_ms.max loop=go -->x<!-- /n -->",
			"<!-- n:foreground cpu lag_ms.max -->399<!-- /n --> and <!-- n:foreground cpu lag_ms.max loop=go -->10.6<!-- /n -->", ""},
		{"<!-- n:queue web-crash lost fmt=pct-of-accepted -->?<!-- /n -->", "<!-- n:queue web-crash lost fmt=pct-of-accepted -->0.8%<!-- /n -->", ""},
		{"(<!-- stamp --><!-- /stamp -->)", "(<!-- stamp -->measured 2026-12-01, commit 0123456, AMD EPYC, 2 cores, linux/amd64, redis 7.0.15, `offload bench --quick`<!-- /stamp -->)", ""},
		{"took <!-- n:env minutes -->1<!-- /n -->", "took <!-- n:env minutes -->8<!-- /n -->", ""},
		{"no markers, 12 ms", "no markers, 12 ms", ""},
		{"<!-- n:queue burst http_latency_ms.p99 -->9<!-- /n --> lost <!-- n:queue burst lost -->?<!-- /n -->",
			"<!-- n:queue burst http_latency_ms.p99 -->–<!-- /n --> lost <!-- n:queue burst lost -->2<!-- /n -->", ""},
		{"<!-- n:queue cpu lost -->1<!-- /n -->", "", "no such run"},
		{"<!-- n:fireforget worker-crash lost -->1<!-- /n -->", "", "n/a (no worker process)"},
		{"<!-- n:queue steady nope -->1<!-- /n -->", "", `no "nope" in the run`},
		{"<!-- n:queue steady lost color=red -->1<!-- /n -->", "", "unknown qualifier"},
		{"<!-- table:nope -->\n<!-- /table -->", "", `no table "nope"`},
	} {
		got, err := Render(data(), c.page)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Render(%q) error %v, want %q", c.page, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Render(%q)\n = %q, %v\nwant %q", c.page, got, err, c.want)
		}
	}
}

func TestRenderTableIsStable(t *testing.T) {
	page := "before\n<!-- table:summary -->\nstale\n<!-- /table -->\nafter\n"
	once, err := Render(data(), page)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(once, "stale") || !strings.Contains(once, "| queue |") {
		t.Fatalf("table not rendered:\n%s", once)
	}
	twice, err := Render(data(), once)
	if err != nil || twice != once {
		t.Fatalf("rendering twice changed the page:\n%s", twice)
	}
}

func TestCurateDropsRawData(t *testing.T) {
	f := data()
	f.Env.GitSHA = ""
	f.Runs[0].Histograms, f.Runs[0].Timeseries = "histograms/x.json", []results.Point{{}}
	c := Curate(f, "abc1234")
	if c.Runs[0].Histograms != "" || c.Runs[0].Timeseries != nil || c.Env.GitSHA != "abc1234" {
		t.Fatalf("curated: %+v %+v", c.Env, c.Runs[0])
	}
	if f.Runs[0].Histograms == "" {
		t.Fatal("Curate changed its input")
	}
}

func TestUnmarked(t *testing.T) {
	for _, c := range []struct {
		name, page string
		want       int
	}{
		{"typed latency", "| strategy | p99 |\n|---|---:|\n| queue | 6.0 ms |\n", 1},
		{"marked", "| strategy | p99 |\n|---|---:|\n| queue | <!-- n:queue steady http_latency_ms.p99 -->6<!-- /n --> ms |\n", 0},
		{"said illustrative", "Illustrative, one run:\n\n| strategy | p99 |\n|---|---:|\n| queue | **6.0 ms** |\n", 0},
		{"not a measurement table", "| flag | default |\n|---|---|\n| --backoff | 200 ms |\n", 0},
		{"in a code block", "```\n| strategy | p99 |\n|---|---:|\n| queue | 6.0 ms |\n```\n", 0},
	} {
		if got := Unmarked(c.page); len(got) != c.want {
			t.Errorf("%s: Unmarked = %q, want %d lines", c.name, got, c.want)
		}
	}
}

func TestUnmarkedPercentileRows(t *testing.T) {
	page := "| | open loop | hey |\n|---|---:|---:|\n| p90 | 153.7 ms | 1.6 ms |\n"
	if got := Unmarked(page); len(got) != 1 {
		t.Fatalf("Unmarked = %q, want the p90 row", got)
	}
}

func TestRepeatsGiveTheirMedian(t *testing.T) {
	f := data()
	f.Runs = nil
	for i, p99 := range []float64{4, 8, 6} {
		f.Runs = append(f.Runs, results.Run{Strategy: "queue", Scenario: "steady", Loop: "node", Repeat: i, Valid: true,
			Sent: 100, Accepted: 100, Delivered: 100, HTTPLatencyMS: results.Percentiles{Count: 100, P99: p99}})
	}
	got, err := Render(f, "<!-- n:queue steady http_latency_ms.p99 -->?<!-- /n -->\n<!-- table:repeats -->\n<!-- /table -->\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "-->6<!-- /n -->") {
		t.Errorf("the median of 4, 8, 6 is 6:\n%s", got)
	}
	if !strings.Contains(got, "| steady queue | 3 of 3 | 6 [4–8]") {
		t.Errorf("no repeats table:\n%s", got)
	}
}
