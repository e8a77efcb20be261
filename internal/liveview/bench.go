package liveview

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/offload/offload/results"
)

// BenchState is where a bench is, as the page shows it.
type BenchState struct {
	Index     int     `json:"index"` // the run under way, 1-based
	Total     int     `json:"total"`
	Completed int     `json:"completed"`
	Strategy  string  `json:"strategy"`
	Scenario  string  `json:"scenario"`
	Variant   string  `json:"variant,omitempty"`
	Phase     string  `json:"phase"`
	ElapsedS  float64 `json:"elapsed_s"`
	PhaseS    float64 `json:"phase_s"`
	Rows      []Row   `json:"rows"`
	Report    string  `json:"report,omitempty"` // link to report.html, once written
	Finished  bool    `json:"finished"`
}

// Row is one finished run in the page's summary table.
type Row struct {
	Index      int      `json:"index"`
	Strategy   string   `json:"strategy"`
	Scenario   string   `json:"scenario"`
	Variant    string   `json:"variant,omitempty"`
	Loop       string   `json:"loop,omitempty"`
	NA         string   `json:"na,omitempty"`
	Invalid    string   `json:"invalid,omitempty"` // measured, but the instrument says not to trust it
	Accepted   int64    `json:"accepted"`
	Delivered  int64    `json:"delivered"`
	Lost       int64    `json:"lost"`
	Duplicates int64    `json:"duplicates"`
	HTTPP99MS  float64  `json:"http_p99_ms"`
	LagMaxMS   float64  `json:"lag_max_ms"`
	RecoveryS  *float64 `json:"recovery_s,omitempty"`
}

// Bench feeds a bench's progress to the page: pass Progress to the
// harness, call Finish once the report is written. The page has no
// actions in bench mode: the harness alone decides what happens.
type Bench struct {
	srv *Server

	mu       sync.Mutex
	cur      results.Progress
	rows     []Row
	report   string
	finished bool
	faults   []Fault
	// Cumulative over the whole bench: each run starts its counts at zero.
	baseAcc, baseDel, baseSent int64
	prevAcc, prevDel           int64
	prevAt                     time.Time
}

// NewBench publishes one event a second on srv until ctx ends.
func NewBench(ctx context.Context, srv *Server) *Bench {
	srv.SetActions(nil)
	b := &Bench{srv: srv, prevAt: time.Now()}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		b.publish()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.publish()
			}
		}
	}()
	return b
}

// Progress takes the harness' report of where a run is.
func (b *Bench) Progress(p results.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Index != b.cur.Index {
		b.baseAcc += b.cur.Accepted
		b.baseDel += b.cur.Delivered
		b.baseSent += b.cur.Sent
		b.prevAcc, b.prevDel = b.baseAcc, b.baseDel
	}
	if p.Index != b.cur.Index {
		b.faults = append(b.faults, Fault{Time: time.Now(), What: fmt.Sprintf("run %d/%d: %s %s", p.Index, p.Total, p.Strategy, p.Scenario)})
	}
	b.cur = p
	if d := p.Done; d != nil {
		b.rows = append(b.rows, Row{Index: p.Index, Strategy: d.Strategy, Scenario: d.Scenario, Variant: d.Variant,
			Loop: d.Loop, NA: d.NAReason, Invalid: d.Invalid, Accepted: d.Accepted, Delivered: d.Delivered, Lost: d.Lost,
			Duplicates: d.Duplicates, HTTPP99MS: d.HTTPLatencyMS.P99, LagMaxMS: d.LagMS.Max, RecoveryS: d.RecoveryS})
	}
}

// Finish links the page to the report in dir (report.html).
func (b *Bench) Finish(dir string) {
	b.srv.SetReport(dir)
	b.mu.Lock()
	b.report, b.finished = "/report/report.html", true
	b.mu.Unlock()
	b.publish()
}

func (b *Bench) publish() {
	now := time.Now()
	b.mu.Lock()
	p := b.cur
	acc, del := b.baseAcc+p.Accepted, b.baseDel+p.Delivered
	dt := now.Sub(b.prevAt).Seconds()
	ev := Event{Time: now, Mode: "bench", Strategy: p.Strategy, Color: colorOf(p.Strategy), Offered: b.baseSent + p.Sent,
		Accepted: acc, Delivered: del, Backlog: p.Backlog, LagMS: map[string]float64{}, Processes: []Process{},
		Rates: Rates{Offered: p.RateRPS}}
	if dt > 0 {
		ev.Rates.Accepted = float64(max(0, acc-b.prevAcc)) / dt
		ev.Rates.Delivered = float64(max(0, del-b.prevDel)) / dt
	}
	b.prevAcc, b.prevDel, b.prevAt = acc, del, now
	ev.Faults, b.faults = b.faults, nil
	ev.Bench = &BenchState{Index: p.Index, Total: p.Total, Completed: len(b.rows), Strategy: p.Strategy,
		Scenario: p.Scenario, Variant: p.Variant, Phase: p.Phase, ElapsedS: p.Elapsed.Seconds(),
		PhaseS: p.PhaseLen.Seconds(), Rows: append([]Row(nil), b.rows...), Report: b.report, Finished: b.finished}
	b.mu.Unlock()
	b.srv.Publish(ev)
}
