package liveview

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// RunConfig is what `offload run` tells the page about what it started.
type RunConfig struct {
	Strategy, Loop string
	WebURL         string       // the web server: /metrics, /debug/lag, POST /jobs
	Delivered      func() int64 // unique deliveries at the mail sink; nil when offload did not start it
	Processes      func() []Proc
	Every          time.Duration // between updates; default 1s
	Actions        RunActions
}

// Proc is one child and where it answers /debug/lag (HTTP, "" for none).
type Proc struct {
	Process
	HTTP string
}

// collector turns what the processes expose into one Event per interval,
// and one more at once whenever a process dies or comes back.
type collector struct {
	cfg    RunConfig
	srv    *Server
	client *http.Client

	mu      sync.Mutex
	faults  []Fault
	cpuJobs int64 // cpu jobs sent from the page: accepted, but they send no mail

	// Owned by the run goroutine.
	lag        map[string]*lagState
	prevWeb    webCounts
	haveWeb    bool
	offered    float64
	accepted   float64
	prevDeliv  int64
	prevTick   time.Time
	lastProcs  []Process
	lastBroker map[string]float64
	lastLag    map[string]float64
	lastRates  Rates
}

type lagState struct {
	last time.Time // the newest bucket seen
}

// Run publishes run-mode events on srv until ctx ends.
func Run(ctx context.Context, srv *Server, cfg RunConfig) {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	c := &collector{cfg: cfg, srv: srv, client: &http.Client{Timeout: cfg.Every * 8 / 10}, lag: map[string]*lagState{}}
	srv.SetActions(runActions(c, cfg.Actions))
	c.prevTick = time.Now()
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	// Process state is cheap to read: look often, so a worker that dies and
	// is restarted within the interval is still seen going down.
	watch := time.NewTicker(cfg.Every / 10)
	defer watch.Stop()
	c.lastProcs = c.processes()
	c.publish(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.publish(ctx, true)
		case <-watch.C:
			if ps := c.processes(); changed(c.lastProcs, ps) {
				c.notePIDs(c.lastProcs, ps)
				c.publish(ctx, false)
			}
		}
	}
}

func (c *collector) processes() []Process {
	var out []Process
	for _, p := range c.cfg.Processes() {
		out = append(out, p.Process)
	}
	return out
}

func changed(a, b []Process) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		if a[i].PID != b[i].PID || a[i].Up != b[i].Up {
			return true
		}
	}
	return false
}

// notePIDs marks deaths and restarts on the timeline.
func (c *collector) notePIDs(before, after []Process) {
	old := map[string]Process{}
	for _, p := range before {
		old[p.Role] = p
	}
	now := time.Now()
	for _, p := range after {
		o, ok := old[p.Role]
		switch {
		case !ok:
		case o.Up && !p.Up:
			c.mark(now, fmt.Sprintf("%s (pid %d) died", p.Role, o.PID))
		case o.PID != p.PID && p.Up:
			if o.Up {
				c.mark(now, fmt.Sprintf("%s (pid %d) died", p.Role, o.PID))
			}
			c.mark(now, fmt.Sprintf("%s back as pid %d", p.Role, p.PID))
		}
	}
}

func (c *collector) mark(at time.Time, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, Fault{Time: at, What: what})
}

// publish sends an event; full also reads the metrics and the loops' lag
// (a process-state event between ticks repeats the last numbers).
func (c *collector) publish(ctx context.Context, full bool) {
	now := time.Now()
	procs := c.cfg.Processes()
	ev := Event{Time: now, Mode: "run", Strategy: c.cfg.Strategy, Color: colorOf(c.cfg.Strategy), Loop: c.cfg.Loop, LagMS: map[string]float64{}}
	for _, p := range procs {
		ev.Processes = append(ev.Processes, p.Process)
	}
	c.lastProcs = ev.Processes
	if full {
		c.lastRates = c.readAll(ctx, now, procs, &ev)
		c.lastLag = ev.LagMS
	} else {
		ev.Broker, ev.LagMS = c.lastBroker, c.lastLag
	}
	ev.Offered, ev.Accepted = int64(c.offered), int64(c.accepted)
	ev.Delivered = c.prevDeliv
	c.mu.Lock()
	ev.Backlog = max(0, ev.Accepted-ev.Delivered-c.cpuJobs)
	ev.Faults, c.faults = c.faults, nil
	c.mu.Unlock()
	ev.Rates = c.lastRates
	c.srv.Publish(ev)
}

// readAll reads the web's metrics, the sink and every loop's lag at once,
// so one slow process does not hold up the others.
func (c *collector) readAll(ctx context.Context, now time.Time, procs []Proc, ev *Event) Rates {
	var wg sync.WaitGroup
	var web webCounts
	var webErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		web, webErr = c.webMetrics(ctx)
	}()
	lags := make([]float64, len(procs))
	for i, p := range procs {
		if p.HTTP == "" || !p.Up {
			lags[i] = -1
			continue
		}
		st := c.lag[p.Role]
		if st == nil {
			st = &lagState{}
			c.lag[p.Role] = st
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lags[i] = c.readLag(ctx, p.HTTP, st, now)
		}()
	}
	wg.Wait()
	for i, p := range procs {
		if lags[i] >= 0 {
			ev.LagMS[p.Role] = lags[i]
		}
	}
	dt := now.Sub(c.prevTick).Seconds()
	c.prevTick = now
	var r Rates
	if webErr == nil {
		if c.haveWeb {
			off, acc := grow(c.prevWeb.offered, web.offered), grow(c.prevWeb.accepted, web.accepted)
			c.offered += off
			c.accepted += acc
			r.Offered, r.Accepted = off/dt, acc/dt
		}
		c.prevWeb, c.haveWeb = web, true
		c.lastBroker = web.broker
	}
	ev.Broker = c.lastBroker
	if c.cfg.Delivered != nil {
		d := c.cfg.Delivered()
		r.Delivered = float64(d-c.prevDeliv) / dt
		c.prevDeliv = d
	}
	return r
}

// grow is how much a counter grew; a restarted process starts from zero.
func grow(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

func (c *collector) webMetrics(ctx context.Context) (webCounts, error) {
	body, err := c.get(ctx, c.cfg.WebURL+"/metrics")
	if err != nil {
		return webCounts{}, err
	}
	defer body.Close()
	return readWebMetrics(parseProm(body)), nil
}

func (c *collector) get(ctx context.Context, u string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("get %s: %s", u, resp.Status)
	}
	return resp.Body, nil
}

// lagBucket is the lag monitor's bucket width: a loop that runs has a
// bucket this recent.
const lagBucket = 100 * time.Millisecond

// readLag returns the worst 100 ms bucket since the last read. A loop that
// is blocked right now has recorded nothing since it stopped, so the time
// since its newest bucket is counted too: the chart rises while the loop is
// stuck, not only once it is free again.
func (c *collector) readLag(ctx context.Context, base string, st *lagState, now time.Time) float64 {
	u := base + "/debug/lag"
	if !st.last.IsZero() {
		u += "?since=" + url.QueryEscape(st.last.Format(time.RFC3339Nano))
	}
	body, err := c.get(ctx, u)
	if err != nil {
		return -1
	}
	defer body.Close()
	var snap struct {
		Samples []struct {
			At    time.Time `json:"t"`
			MaxMS float64   `json:"max_ms"`
		} `json:"samples"`
	}
	if err := json.NewDecoder(body).Decode(&snap); err != nil {
		return -1
	}
	worst, newest := 0.0, st.last
	for _, s := range snap.Samples {
		if s.At.Before(st.last) {
			continue
		}
		worst = max(worst, s.MaxMS)
		if s.At.After(newest) {
			newest = s.At
		}
	}
	st.last = newest
	if !newest.IsZero() {
		if stuck := now.Sub(newest.Add(lagBucket)); stuck > lagBucket {
			worst = max(worst, float64(stuck)/float64(time.Millisecond))
		}
	}
	return worst
}
