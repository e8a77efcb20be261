package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/strategytest"
)

// TestCatalogAddsAStrategyWithOneEntry takes the test-only strategy
// "sample" — one package and one catalog entry, compiled in by the
// offloadtest tag — through offload run, a quick bench and a report. No
// other file names it: if this passes, adding a strategy is that much.
func TestCatalogAddsAStrategyWithOneEntry(t *testing.T) {
	itest.Redis(t) // the bench needs redis-server on the machine, even for a web-only strategy
	bin := itest.TaggedBinary(t, "offloadtest")

	t.Run("a release binary does not know it", func(t *testing.T) {
		out, err := exec.Command(itest.Binary(t), "serve", "--strategy", "sample").CombinedOutput()
		if code := exitOf(err); code != 2 || !strings.Contains(string(out), `unknown strategy "sample"`) {
			t.Fatalf("exit %d, output %q: want exit 2 and unknown strategy", code, out)
		}
	})

	t.Run("offload run", func(t *testing.T) {
		sink := itest.Sink(t, mailsink.Config{})
		port, err := redisproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := itest.StartBinary(t, bin, "run", "run", "--strategy", "sample", "--addr", addr, "--smtp", sink.Addr())
		url := "http://" + addr
		ctx := context.Background()
		if !wait.Until(ctx, 30*time.Second, func() bool { return !p.Exited() && wait.HTTPOK(ctx, url+"/healthz") }) {
			t.Fatal("offload run --strategy sample never answered /healthz")
		}
		r := strategytest.Post(t, url, strategytest.MailJSON("one entry"), "")
		if r.Code != 202 {
			t.Fatalf("POST /jobs = %d %v, want 202", r.Code, r.Body)
		}
		strategytest.WaitDelivered(t, sink, []string{r.Body["id"].(string)}, 10*time.Second)
	})

	t.Run("bench and report", func(t *testing.T) {
		out := t.TempDir()
		cmd := exec.Command(bin, "bench", "--quick", "--strategies", "sample", "--scenarios", "steady,worker-crash", "--out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("offload bench: %v\n%s", err, b)
		}
		dir := filepath.Join(out, "latest")
		f, err := results.Read(filepath.Join(dir, "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var steady, crash *results.Run
		for i, r := range f.Runs {
			switch {
			case r.Strategy != "sample":
				t.Errorf("run of %q: only sample was asked for", r.Strategy)
			case r.Scenario == "steady":
				steady = &f.Runs[i]
			case r.Scenario == "worker-crash":
				crash = &f.Runs[i]
			}
		}
		if steady == nil || steady.Accepted == 0 || steady.Delivered != steady.Accepted || steady.Lost != 0 {
			t.Fatalf("steady run %+v: want every accepted job delivered", steady)
		}
		if steady.Style == nil || steady.Style.Color != "#999999" || steady.Style.Label != "sample" {
			t.Errorf("steady run style %+v: want the catalog entry's colour and label", steady.Style)
		}
		if crash == nil || !strings.Contains(crash.NAReason, "no worker process") {
			t.Errorf("worker-crash run %+v: want n/a with the catalog's reason", crash)
		}
		if b, err := exec.Command(bin, "report", dir).CombinedOutput(); err != nil {
			t.Fatalf("offload report: %v\n%s", err, b)
		}
		md, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), "sample") {
			t.Error("REPORT.md does not mention the sample strategy")
		}
	})
}

func exitOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
