package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

// Plan is one run: a strategy through a scenario in one configuration.
type Plan struct {
	Index, Total int
	Strategy     string
	Entry        catalog.Entry // zero for an external target
	Scenario     Scenario
	Variant      catalog.Variant
	Loop         string
	Workers      int
	Concurrency  int    // --concurrency of every mail-sending process; 0: the strategy's default
	NA           string // set: report n/a with this reason, start nothing
	Repeat       int    // 0-based, of Bench.Repeat
}

// label names the run in logs and file names.
func (p Plan) label() string {
	s := fmt.Sprintf("%s/%s", p.Strategy, p.Scenario.Name)
	if p.Loop != "" {
		s += " loop=" + p.Loop
	}
	if p.Variant.Name != "" {
		s += " " + p.Variant.Name
	}
	if p.Scenario.Name == Scale && p.NA == "" {
		s += fmt.Sprintf(" workers=%d", p.Workers)
	}
	if p.Repeat > 0 {
		s += fmt.Sprintf(" repeat=%d", p.Repeat)
	}
	return s
}

// style copies the catalog's drawing facts into the run, so reports need
// nothing but results.json.
func (p Plan) style() *results.Style {
	if p.Strategy == Baseline {
		return baselineStyle()
	}
	if p.Entry.Name == "" {
		return nil // an external target: reports give it a neutral look
	}
	return p.Entry.ResultStyle(p.Variant)
}

func (p Plan) newRun() results.Run {
	r := results.Run{Strategy: p.Strategy, Scenario: p.Scenario.Name, Loop: p.Loop, Variant: p.Variant.Name,
		OfferedRPS: p.Scenario.Rate, Status: map[string]int{}, Faults: []results.Fault{}, Timeseries: []results.Point{},
		Processes: []results.ProcessUse{}, Style: p.style(), Repeat: p.Repeat}
	if p.Entry.Name != "" {
		r.Concurrency = senderConcurrency(p.Entry, p.Concurrency)
	}
	if p.Scenario.Name == Scale && p.NA == "" {
		r.Workers = p.Workers
		r.Variant = strings.TrimSpace(r.Variant + fmt.Sprintf(" workers=%d", p.Workers))
	}
	return r
}

// measured is what the measured phase gathered, before accounting.
type measured struct {
	start, end time.Time
	pace       Pace
	jobs       *Collector
	probes     *Collector
	faults     []FaultWindow
	lag        *lagmonitor.Snapshot
	lagErr     error
	cpu0       time.Duration // this process's CPU when the measured phase began
	host       HostUse       // steal and the bench's GC over the measured phase
	// interrupted: Ctrl-C came before the run was accounted.
	interrupted bool
	remote      *Merged // the load came from generator processes (--generators)
	remoteErr   error
}

// run is the state of one run while it is under way.
type run struct {
	b       *Bench
	plan    Plan
	env     *Env
	base    string
	sender  *Sender
	sampler Sampler
	phase   string
	phaseAt time.Time
	phaseN  time.Duration
	jobs    *Collector
	mu      sync.Mutex
	// targetDelivers: an external target's mail was seen at the sink.
	targetDelivers bool
}

// expectMail says whether the sink should see this run's jobs: always for
// the processes the harness started, for an external target only once its
// mail has been seen there.
func (r *run) expectMail() bool { return r.b.Target == "" || r.targetDelivers }

func (r *run) setPhase(name string, length time.Duration) {
	r.mu.Lock()
	r.phase, r.phaseAt, r.phaseN = name, time.Now(), length
	r.mu.Unlock()
	r.b.logf("[%d/%d] %s: %s", r.plan.Index, r.plan.Total, r.plan.label(), name)
	r.report(nil)
}

// report calls the progress callback with where the run is.
func (r *run) report(done *results.Run) {
	if r.b.Progress == nil {
		return
	}
	r.mu.Lock()
	p := results.Progress{Index: r.plan.Index, Total: r.plan.Total, Strategy: r.plan.Strategy, Scenario: r.plan.Scenario.Name,
		Variant: r.plan.Variant.Name, Phase: r.phase, Elapsed: time.Since(r.phaseAt), PhaseLen: r.phaseN, Done: done}
	jobs := r.jobs
	r.mu.Unlock()
	if jobs != nil {
		p.Sent, p.Accepted = jobs.Counts()
		p.RateRPS = jobs.rateLastSecond()
		p.Delivered = int64(r.b.Sink.Stats().Unique)
		p.Backlog = max(0, p.Accepted-p.Delivered)
	}
	r.b.Progress(p)
}

// ticker reports progress several times a second until ctx ends.
func (r *run) ticker(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.report(nil)
		}
	}
}

// lagSnapshot reads the web's /debug/lag.
func lagSnapshot(ctx context.Context, c *http.Client, base string) (*lagmonitor.Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/lag", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get /debug/lag: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get /debug/lag: %s", resp.Status)
	}
	var s lagmonitor.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("decode /debug/lag: %w", err)
	}
	return &s, nil
}

func lagReset(ctx context.Context, c *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/debug/lag/reset", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("reset /debug/lag: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// rateLastSecond counts requests sent in the last second (for progress).
func (c *Collector) rateLastSecond() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	cut := time.Now().Add(-time.Second)
	var n float64
	for i := len(c.outcomes) - 1; i >= 0 && c.outcomes[i].Sent.After(cut); i-- {
		n++
	}
	return n
}
