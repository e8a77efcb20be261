package liveview_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/offload/offload/internal/itest"
)

// `offload bench` shows its progress on the page: the run under way, the
// finished runs as rows, the report link at the end; and it has no buttons.
func TestBenchPageInChromium(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	ctx := browser(t)
	// Chromium is started before the bench, and the runs measure 3 s each:
	// the page lives only as long as the bench, which at quick lengths
	// could end before a slow browser had started.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	itest.Redis(t) // skips (or fails under CI=true) without redis-server, as bench would
	ui := itest.FreeAddr(t)
	p := itest.Start(t, "bench", "bench", "--quick", "--duration", "3s", "--strategies", "foreground,fireforget", "--scenarios", "steady",
		"--out", t.TempDir(), "--ui", ui)
	itest.WaitHTTP(t, "http://"+ui+"/")
	tb := openTab(t, ctx, "http://"+ui+"/")

	tb.poll(t, 30*time.Second, "the run under way", `document.getElementById("bench-run").textContent.includes("of 2")`)
	tb.poll(t, 60*time.Second, "a finished run in the summary", `document.querySelectorAll("#summary tbody tr").length >= 1`)
	tb.poll(t, 120*time.Second, "the link to report.html",
		`document.querySelector('#bench-report a[href="/report/report.html"]') !== null`)
	if n := tb.eval(t, `String(document.querySelectorAll("#summary tbody tr").length)`); n != "2" {
		t.Fatalf("%s rows in the summary, want 2", n)
	}
	if hidden := tb.eval(t, `String(document.getElementById("actions").hidden)`); hidden != "true" {
		t.Fatal("the bench page shows actions")
	}
	// Large type for a projector: the toggle enlarges the text.
	small := tb.eval(t, `getComputedStyle(document.documentElement).fontSize`)
	if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.ID("big"))); err != nil {
		t.Fatal(err)
	}
	tb.poll(t, 2*time.Second, "large type", `document.body.classList.contains("big") && getComputedStyle(document.body).fontSize !== "`+small+`"`)
	tb.screenshot(t, "bench.png")
	itest.Eventually(t, 60*time.Second, "offload bench to finish", p.Exited)
	if err := p.Err(); err != nil {
		t.Fatalf("offload bench: %v", err)
	}
}
