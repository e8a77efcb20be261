package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyFixture puts the reports' fixed results.json in a fresh directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "reports", "testdata", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportRerendersByteForByte(t *testing.T) {
	dir := copyFixture(t)
	var out bytes.Buffer
	if err := runReport(context.Background(), []string{dir}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "report: "+filepath.Join(dir, "report.html")) ||
		!strings.Contains(out.String(), "1,023 (13.5%)") {
		t.Errorf("report did not print the table and the report's path:\n%s", out.String())
	}
	first := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		first[e.Name()], _ = os.ReadFile(filepath.Join(dir, e.Name()))
	}
	for _, want := range []string{"REPORT.md", "report.html", "spectrum-steady.png", "timeline-web-crash.svg", "scale.png"} {
		if len(first[want]) == 0 {
			t.Errorf("%s was not written", want)
		}
	}
	if err := runReport(context.Background(), []string{dir}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for name, b := range first {
		again, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(b, again) {
			t.Errorf("%s changed when re-rendered", name)
		}
	}
}

func TestReportUsage(t *testing.T) {
	for _, args := range [][]string{{}, {t.TempDir()}, {"a", "b"}} {
		if err := runReport(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("report %q: no error", args)
		}
	}
	if err := runCompare(context.Background(), []string{"only-one"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("compare with one directory: no error")
	}
}

func TestCompareCommand(t *testing.T) {
	a, b := copyFixture(t), copyFixture(t)
	var out bytes.Buffer
	if err := runCompare(context.Background(), []string{a, b}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 of ") {
		t.Errorf("identical benches compared as different:\n%s", out.String())
	}
}
