package liveview_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/strategies/strategytest"
)

// chromiumPath is Debian's headless Chromium (make deps installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		itest.Need(t, fmt.Errorf("chromium is missing at %s: make deps installs it", path))
	}
	return path
}

// browser starts one headless Chromium for t with the flags this machine
// needs (no sandbox as root, nothing that phones home) and a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 720),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// tab opens a page in its own tab and records every console error,
// uncaught exception and browser-log error it produces.
type tab struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func openTab(t *testing.T, browserCtx context.Context, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				tb.mu.Lock()
				tb.errs = append(tb.errs, m.String()+" at "+m.URL)
				tb.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return tb
}

// poll waits, inside the page, for a JavaScript expression to be truthy.
func (tb *tab) poll(t *testing.T, d time.Duration, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, d)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("page never showed %s within %v (%s): %v", what, d, expr, err)
	}
}

func (tb *tab) eval(t *testing.T, expr string) string {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join(moduleRoot(t), "out", "liveview")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

func (tb *tab) noConsoleErrors(t *testing.T) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errs) > 0 {
		t.Errorf("console errors on the page:\n%s", strings.Join(tb.errs, "\n"))
	}
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// startRun starts a real `offload run` with its page on a free port, and
// stops it with Ctrl-C (SIGINT) at cleanup so it takes its children along.
func startRun(t *testing.T, args ...string) (web, page string) {
	t.Helper()
	addr, ui := itest.FreeAddr(t), itest.FreeAddr(t)
	p := itest.Start(t, "run", append([]string{"run", "--addr", addr, "--ui", ui, "--sink-delay", "0s"}, args...)...)
	t.Cleanup(func() { stopRun(t, p) })
	itest.WaitHTTP(t, "http://"+addr+"/healthz")
	itest.WaitHTTP(t, "http://"+ui+"/")
	return "http://" + addr, "http://" + ui + "/"
}

func stopRun(t *testing.T, p *proc.Process) {
	_ = p.Signal(syscall.SIGINT)
	if !itest.Poll(20*time.Second, p.Exited) {
		t.Errorf("offload run did not exit on SIGINT")
	}
}

func num(t *testing.T, tb *tab, id string) int {
	t.Helper()
	v, err := strconv.Atoi(tb.eval(t, fmt.Sprintf("document.getElementById(%q).dataset.value", id)))
	if err != nil {
		t.Fatalf("#%s: %v", id, err)
	}
	return v
}

func TestLivePageInChromium(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	ctx := browser(t)
	rs := itest.Redis(t)
	web, page := startRun(t, "--strategy", "queue", "--redis", rs.URL())
	tb := openTab(t, ctx, page)

	tb.poll(t, 10*time.Second, "the strategy's name", `document.getElementById("strategy").textContent === "queue"`)
	tb.poll(t, 10*time.Second, "the connection open", `document.getElementById("conn").dataset.state === "open"`)

	// Jobs posted to the web server reach the page's delivered count.
	before := num(t, tb, "delivered")
	for range 5 {
		if r := strategytest.Post(t, web, strategytest.MailJSON("live page"), ""); r.Code != http.StatusAccepted {
			t.Fatalf("POST /jobs: %d", r.Code)
		}
	}
	tb.poll(t, 2*time.Second, "the delivered count rise by 5",
		fmt.Sprintf(`Number(document.getElementById("delivered").dataset.value) >= %d`, before+5))

	// The page's own button posts through its token-guarded action.
	if err := chromedp.Do(tb.ctx, chromedp.SetValue(chromedp.ID("count"), "3"), chromedp.Click(chromedp.ID("action-mail"))); err != nil {
		t.Fatal(err)
	}
	tb.poll(t, 10*time.Second, "the mails the button sent delivered",
		fmt.Sprintf(`Number(document.getElementById("delivered").dataset.value) >= %d`, before+8))

	// A real SIGKILL of the worker: its row turns red, then it is back.
	row := `document.querySelector('#procs tr[data-role="worker-1"]')`
	tb.poll(t, 10*time.Second, "worker-1 up", row+` && `+row+`.className === "up"`)
	pid, err := strconv.Atoi(tb.eval(t, row+".dataset.pid"))
	if err != nil || pid <= 0 {
		t.Fatalf("worker-1 pid on the page: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tb.poll(t, 5*time.Second, "worker-1 down", row+` && `+row+`.className === "down"`)
	tb.screenshot(t, "worker-kill.png")
	tb.poll(t, 15*time.Second, "worker-1 back with a new pid",
		fmt.Sprintf(`%s && %s.className === "up" && %s.dataset.pid !== "%d"`, row, row, row, pid))
	tb.poll(t, 5*time.Second, "the kill marked on the timeline",
		`[...document.querySelectorAll("#faults li")].some(li => li.textContent.includes("worker-1"))`)
	tb.noConsoleErrors(t)
}

// A cpu job on fireforget under the node loop runs on the web's own loop:
// the page's lag chart must rise while it burns.
func TestLivePageShowsLoopLag(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	ctx := browser(t)
	_, page := startRun(t, "--strategy", "fireforget", "--loop", "node")
	tb := openTab(t, ctx, page)
	tb.poll(t, 10*time.Second, "the strategy's name", `document.getElementById("strategy").textContent === "fireforget"`)
	tb.poll(t, 10*time.Second, "a lag reading for the web process", `document.getElementById("lag-key").textContent.includes("web")`)
	if max := tb.eval(t, `document.getElementById("lag-chart").dataset.max`); max == "" {
		t.Fatal("lag chart has no data-max")
	} else if v, _ := strconv.ParseFloat(max, 64); v > 500 {
		t.Fatalf("lag already %v ms before the cpu job: the rise below would prove nothing", v)
	}
	if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.ID("action-cpu"))); err != nil {
		t.Fatal(err)
	}
	tb.poll(t, 6*time.Second, "the lag chart above 500 ms",
		`Number(document.getElementById("lag-chart").dataset.max) > 500 && document.querySelector("#lag-chart path") !== null`)
	tb.screenshot(t, "cpu-lag.png")
	tb.noConsoleErrors(t)
}
