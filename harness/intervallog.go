package harness

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Generator processes hand their latency histograms to the bench as
// HdrHistogram interval logs (the text format of HdrHistogram's
// HistogramLogWriter, version 1.3): one line per tagged histogram per
// interval, the histogram V2-compressed and base64-encoded. Being plain
// files in a documented format, they can come from processes on other
// machines and be merged, or read by HdrHistogram's own tools.
//
// Values are recorded in microseconds; the Interval_Max column is in
// milliseconds (a max value unit ratio of 1000).

const intervalLogMaxRatio = 1000.0

// IntervalLogWriter writes an interval log.
type IntervalLogWriter struct {
	w     io.Writer
	start time.Time
}

// NewIntervalLogWriter writes the log's header; interval start times are
// given relative to start.
func NewIntervalLogWriter(w io.Writer, start time.Time) (*IntervalLogWriter, error) {
	secs := float64(start.UnixMilli()) / 1000
	_, err := fmt.Fprintf(w, "#[Histogram log format version 1.3]\n#[StartTime: %.3f (seconds since epoch), %s]\n#[BaseTime: %.3f (seconds since epoch)]\n#[MaxValueDivisor: %.1f]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
		secs, start.UTC().Format(time.RFC1123), secs, intervalLogMaxRatio)
	if err != nil {
		return nil, fmt.Errorf("write interval log header: %w", err)
	}
	return &IntervalLogWriter{w: w, start: start}, nil
}

// Write adds one interval's histogram under tag ("" for none).
func (l *IntervalLogWriter) Write(tag string, from, to time.Time, h *hdrhistogram.Histogram) error {
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return fmt.Errorf("encode histogram: %w", err)
	}
	prefix := ""
	if tag != "" {
		if strings.ContainsAny(tag, ", \n") {
			return fmt.Errorf("interval log tag %q: no commas, spaces or newlines", tag)
		}
		prefix = "Tag=" + tag + ","
	}
	_, err = fmt.Fprintf(l.w, "%s%.3f,%.3f,%.3f,%s\n", prefix, from.Sub(l.start).Seconds(), to.Sub(from).Seconds(),
		float64(h.Max())/intervalLogMaxRatio, enc)
	if err != nil {
		return fmt.Errorf("write interval log: %w", err)
	}
	return nil
}

// Interval is one line of an interval log.
type Interval struct {
	Tag       string
	Start     time.Time // absolute: the log's base time plus the line's start timestamp
	Length    time.Duration
	Histogram *hdrhistogram.Histogram
}

// ReadIntervalLog parses an interval log. A log without a BaseTime or
// StartTime header gives start timestamps relative to the zero time.
func ReadIntervalLog(r io.Reader) ([]Interval, error) {
	var out []Interval
	var base time.Time
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#[BaseTime:"), strings.HasPrefix(line, "#[StartTime:") && base.IsZero():
			f := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(line, "#[BaseTime:"), "#[StartTime:"))
			if len(f) == 0 {
				return nil, fmt.Errorf("interval log line %d: no time in %q", n, line)
			}
			secs, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "]"), 64)
			if err != nil {
				return nil, fmt.Errorf("interval log line %d: %w", n, err)
			}
			base = time.UnixMilli(int64(secs * 1000))
			continue
		case strings.HasPrefix(line, "#"), strings.HasPrefix(line, "\"StartTimestamp\""):
			continue
		}
		iv, err := parseInterval(line, base)
		if err != nil {
			return nil, fmt.Errorf("interval log line %d: %w", n, err)
		}
		out = append(out, iv)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read interval log: %w", err)
	}
	return out, nil
}

func parseInterval(line string, base time.Time) (Interval, error) {
	var iv Interval
	if rest, ok := strings.CutPrefix(line, "Tag="); ok {
		tag, after, ok := strings.Cut(rest, ",")
		if !ok {
			return iv, fmt.Errorf("tag without fields: %q", line)
		}
		iv.Tag, line = tag, after
	}
	f := strings.Split(line, ",")
	if len(f) != 4 {
		return iv, fmt.Errorf("want start,length,max,histogram: %q", line)
	}
	start, err1 := strconv.ParseFloat(f[0], 64)
	length, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return iv, fmt.Errorf("bad start or length in %q", line)
	}
	h, err := hdrhistogram.Decode([]byte(f[3]))
	if err != nil {
		return iv, fmt.Errorf("decode histogram: %w", err)
	}
	iv.Start = base.Add(time.Duration(start * float64(time.Second)))
	iv.Length = time.Duration(length * float64(time.Second))
	iv.Histogram = h
	return iv, nil
}

// MergeIntervals merges every interval with tag into one histogram.
func MergeIntervals(ivs []Interval, tag string) *hdrhistogram.Histogram {
	h := newLatencyHist()
	for _, iv := range ivs {
		if iv.Tag == tag {
			h.Merge(iv.Histogram)
		}
	}
	return h
}
