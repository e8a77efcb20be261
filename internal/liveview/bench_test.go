package liveview

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/offload/offload/results"
)

func TestBenchFillsTheSummaryAndLinksTheReport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ln, "bench", true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := NewBench(ctx, srv)

	b.Progress(results.Progress{Index: 1, Total: 2, Strategy: "queue", Scenario: "steady", Phase: "measure", Accepted: 50, Delivered: 40})
	done := results.Run{Strategy: "queue", Scenario: "steady", Accepted: 60, Delivered: 60}
	b.Progress(results.Progress{Index: 1, Total: 2, Strategy: "queue", Scenario: "steady", Phase: "done", Accepted: 60, Delivered: 60, Done: &done})
	b.Progress(results.Progress{Index: 2, Total: 2, Strategy: "eventbus", Scenario: "steady", Phase: "measure", Accepted: 5, Delivered: 1})
	b.publish()
	ev, _ := srv.hub.last()
	if ev.Mode != "bench" || ev.Bench == nil {
		t.Fatalf("event %+v: want bench mode", ev)
	}
	if ev.Accepted != 65 || ev.Delivered != 61 {
		t.Fatalf("accepted %d, delivered %d; want 65 and 61 over both runs", ev.Accepted, ev.Delivered)
	}
	if st := ev.Bench; st.Index != 2 || st.Completed != 1 || len(st.Rows) != 1 || st.Rows[0].Delivered != 60 || st.Finished {
		t.Fatalf("bench state %+v: want run 2 of 2 under way, one row done", st)
	}
	if len(ev.Actions) != 0 {
		t.Fatalf("bench mode offers actions: %v", ev.Actions)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte("<p>report</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL() + "report/report.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("report before Finish: %d, want 404", resp.StatusCode)
	}
	b.Finish(dir)
	ev, _ = srv.hub.last()
	if !ev.Bench.Finished || ev.Bench.Report != "/report/report.html" {
		t.Fatalf("after Finish: %+v", ev.Bench)
	}
	resp, err = http.Get(srv.URL() + "report/report.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("report after Finish: %d", resp.StatusCode)
	}
}
