package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HistogramUnit is the unit every raw histogram records in.
const HistogramUnit = "us"

// Raw histogram names. A run keeps those it measured.
const (
	HistHTTP      = "http"       // due -> response, every job request
	HistService   = "service"    // sent -> response
	HistE2E       = "e2e"        // due -> first delivery at the sink
	HistProbe     = "probe"      // /healthz probes, due -> response
	HistSendDelay = "send_delay" // generator lateness vs its schedule
	HistHey       = "hey"        // hey's own requests, closed loop, sent -> response
)

// histFile is one run's raw histograms: HdrHistogram V2 compressed, base64,
// so any percentile can be recomputed without trusting the summary.
type histFile struct {
	Unit       string            `json:"unit"`
	Histograms map[string][]byte `json:"histograms"` // name -> hdrhistogram Encode output
}

// WriteHistograms saves hs under dir/histograms/ in a file named after the
// run and returns its path relative to dir (what Run.Histograms holds).
func WriteHistograms(dir string, r *Run, index int, hs map[string]*hdrhistogram.Histogram) (string, error) {
	f := histFile{Unit: HistogramUnit, Histograms: map[string][]byte{}}
	for name, h := range hs {
		if h == nil {
			continue
		}
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return "", fmt.Errorf("encode %s histogram: %w", name, err)
		}
		f.Histograms[name] = b
	}
	rel := filepath.Join("histograms", HistogramFileName(r, index))
	if err := os.MkdirAll(filepath.Join(dir, "histograms"), 0o755); err != nil {
		return "", fmt.Errorf("histograms dir: %w", err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode histograms: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
		return "", fmt.Errorf("write histograms: %w", err)
	}
	return rel, nil
}

// ReadHistograms loads the raw histograms of r from the results directory
// dir (the one holding results.json). Values are in HistogramUnit.
func ReadHistograms(dir string, r Run) (map[string]*hdrhistogram.Histogram, error) {
	if r.Histograms == "" {
		return nil, fmt.Errorf("run %s/%s kept no histograms", r.Strategy, r.Scenario)
	}
	b, err := os.ReadFile(filepath.Join(dir, r.Histograms))
	if err != nil {
		return nil, fmt.Errorf("read histograms: %w", err)
	}
	var f histFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", r.Histograms, err)
	}
	out := make(map[string]*hdrhistogram.Histogram, len(f.Histograms))
	for name, enc := range f.Histograms {
		h, err := hdrhistogram.Decode(enc)
		if err != nil {
			return nil, fmt.Errorf("decode %s histogram of %s: %w", name, r.Histograms, err)
		}
		out[name] = h
	}
	return out, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// HistogramFileName is the file a run's histograms are kept in.
func HistogramFileName(r *Run, index int) string {
	parts := []string{fmt.Sprintf("%03d", index), r.Strategy, r.Scenario}
	if r.Loop != "" {
		parts = append(parts, "loop="+r.Loop)
	}
	if r.Variant != "" {
		parts = append(parts, r.Variant)
	}
	return unsafeName.ReplaceAllString(strings.Join(parts, "_"), "-") + ".json"
}
