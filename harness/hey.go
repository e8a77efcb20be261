package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/rakyll/hey/requester"

	"github.com/offload/offload/results"
)

// heyReport is the part of hey's Report (its Output template
// "{{ jsonify . }}") the harness reads.
type heyReport struct {
	Rps                 float64
	Slowest             float64 // seconds
	NumRes              int64
	Lats                []float64
	ErrorDist           map[string]int
	StatusCodeDist      map[string]int
	LatencyDistribution []struct {
		Percentage int
		Latency    float64 // seconds
	}
}

// Hey runs rakyll/hey, closed loop, against base for d at the
// scenario's rate: c workers, each sending its next request only after the
// previous one answered and its own ticker fired. That is "what hey would
// tell you"; its percentiles sit beside the open-loop ones.
// The histogram holds hey's raw latencies (microseconds).
func Hey(ctx context.Context, base string, s Scenario, prefix string, d time.Duration, c int) (*results.HeyResult, *hdrhistogram.Histogram, error) {
	if c < 1 {
		c = 1
	}
	// Like `hey -z d`: more requests than the duration can hold, stopped at
	// d. A rate of 0 is hey's own default: as fast as answers come.
	n := int(2*s.Rate*d.Seconds()) + c
	if s.Rate <= 0 {
		n = 1 << 30
	}
	tmpl, err := NewJobRequest(ctx, base, Request{ID: "template", Kind: "io"})
	if err != nil {
		return nil, nil, err
	}
	var seq atomic.Int64
	var out bytes.Buffer
	w := &requester.Work{
		Request: tmpl,
		RequestFunc: func() *http.Request {
			i := int(seq.Add(1) - 1)
			req, err := NewJobRequest(ctx, base, s.Request(prefix, i, time.Now()))
			if err != nil {
				return tmpl.Clone(ctx) // unreachable: the base URL already parsed
			}
			return req
		},
		N: n, C: c, QPS: s.Rate / float64(c), Timeout: 10,
		Output: "{{ jsonify . }}", Writer: &out,
	}
	w.Init()
	done := make(chan struct{})
	go func() { w.Run(); close(done) }()
	bound := time.NewTimer(d)
	defer bound.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		w.Stop()
		<-done
	case <-bound.C:
		w.Stop()
		<-done
	}
	var rep heyReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, nil, fmt.Errorf("read hey's report: %w", err)
	}
	r, h := heyResult(rep, c)
	return r, h, nil
}

func heyResult(rep heyReport, c int) (*results.HeyResult, *hdrhistogram.Histogram) {
	r := &results.HeyResult{Requests: int64(len(rep.Lats)), Concurrency: c, RPS: round3(rep.Rps)}
	for _, n := range rep.ErrorDist {
		r.Errors += int64(n)
	}
	r.Requests += r.Errors
	for code, n := range rep.StatusCodeDist {
		if !strings.HasPrefix(code, "2") {
			r.Non2xx += int64(n)
		}
	}
	h := newLatencyHist()
	for _, s := range rep.Lats {
		recordMS(h, time.Duration(s*float64(time.Second)))
	}
	r.LatencyMS = percentiles(h)
	own := results.Percentiles{Count: int64(len(rep.Lats)), Max: round3(rep.Slowest * 1000)}
	for _, p := range rep.LatencyDistribution {
		v := round3(p.Latency * 1000)
		switch p.Percentage {
		case 50:
			own.P50 = v
		case 90:
			own.P90 = v
		case 99:
			own.P99 = v
		}
	}
	r.Reported = &own
	return r, h
}
