package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/rakyll/hey/requester"
)

// The generator is an instrument only if it costs the machine no more than
// the tool people would otherwise reach for, and keeps its schedule at
// rates that matter. GenVsHey measures both against the same bare handler
// (a separate process, so this process's CPU is the load tool's alone):
// hey's closed-loop maximum, then hey and the generator at the same fixed
// rate (CPU per request), then the generator at rising fractions of hey's
// maximum until its p99 send delay passes the bound.

// GenVsHeyConfig says how long each leg runs and where the handler is.
type GenVsHeyConfig struct {
	Base     string        // the bare handler's URL
	Duration time.Duration // per leg; default 5s
	C        int           // hey's concurrency; default 50
	Bound    time.Duration // send delay bound; default DefaultSendDelayBound
	Log      io.Writer
}

// GenLeg is the generator at one rate.
type GenLeg struct {
	Rate          float64
	Fired, Sent   int
	CPUPerReqUS   float64
	SendDelayP99  time.Duration // due -> written
	PaceP99       time.Duration // due -> the firing thread awake: the pacer's share of it
	KeptSchedule  bool
	InvalidReason string
	Note          string // the pacer's (Pace.Note)
}

func (l GenLeg) delays() string {
	return fmt.Sprintf("p99 send delay %.2fms (p99 wake-up %.2fms)", ms(l.SendDelayP99), ms(l.PaceP99))
}

// GenVsHeyResult is what the benchmark prints.
type GenVsHeyResult struct {
	HeyMaxRPS      float64 // closed loop, C workers, no rate limit
	Rate           float64 // the fixed rate of the CPU comparison: half of HeyMaxRPS, rounded up
	HeyCPUPerReqUS float64 // hey at Rate
	HeyRPS         float64 // what hey achieved at Rate
	Gen            GenLeg  // the generator at Rate
	Ladder         []GenLeg
	MaxKeptRPS     float64 // the highest ladder rate with p99 send delay within the bound
}

// CPURatio is the generator's CPU per request over hey's at the same rate:
// at most 1 is the goal.
func (r GenVsHeyResult) CPURatio() float64 {
	if r.HeyCPUPerReqUS == 0 {
		return 0
	}
	return r.Gen.CPUPerReqUS / r.HeyCPUPerReqUS
}

// KeptRatio is the highest rate the generator kept its schedule at, over
// hey's closed-loop maximum: at least 0.5 is the goal.
func (r GenVsHeyResult) KeptRatio() float64 {
	if r.HeyMaxRPS == 0 {
		return 0
	}
	return r.MaxKeptRPS / r.HeyMaxRPS
}

// GenVsHey runs the comparison.
func GenVsHey(ctx context.Context, cfg GenVsHeyConfig) (GenVsHeyResult, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.C <= 0 {
		cfg.C = 50
	}
	if cfg.Bound <= 0 {
		cfg.Bound = DefaultSendDelayBound
	}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", a...)
		}
	}
	var res GenVsHeyResult
	// Warm both up (connections, the handler's goroutines), then measure.
	if _, _, _, err := heyLeg(ctx, cfg, 0, cfg.Duration/5); err != nil {
		return res, err
	}
	heyMax, _, _, err := heyLeg(ctx, cfg, 0, cfg.Duration)
	if err != nil {
		return res, err
	}
	res.HeyMaxRPS = heyMax
	res.Rate = math.Ceil(heyMax / 2) // at least half: the goal's rate
	logf("hey -c %d, closed loop: %.0f req/s", cfg.C, heyMax)
	rps, cpu, n, err := heyLeg(ctx, cfg, res.Rate, cfg.Duration)
	if err != nil {
		return res, err
	}
	res.HeyRPS = rps
	if n > 0 {
		res.HeyCPUPerReqUS = float64(cpu.Microseconds()) / float64(n)
	}
	logf("hey -c %d -q %.0f (%.0f req/s in all): %.0f req/s, %.1f µs CPU per request", cfg.C, res.Rate/float64(cfg.C), res.Rate, rps, res.HeyCPUPerReqUS)
	res.Gen = genLeg(ctx, cfg, res.Rate)
	if res.Gen.Note != "" {
		logf("%s", res.Gen.Note)
	}
	logf("generator at %.0f req/s: %.1f µs CPU per request, %s", res.Rate, res.Gen.CPUPerReqUS, res.Gen.delays())
	res.Ladder = append(res.Ladder, res.Gen)
	// Up from half of hey's maximum while the schedule holds, up to hey's
	// maximum; down from it until it does; then once halfway between the
	// highest rate kept and the lowest missed.
	steps := []float64{0.75, 1}
	if res.Gen.KeptSchedule {
		res.MaxKeptRPS = res.Rate
	} else {
		steps = []float64{0.35, 0.25, 0.15, 0.1, 0.05}
	}
	missed := 0.0
	if !res.Gen.KeptSchedule {
		missed = res.Rate
	}
	try := func(rate float64) GenLeg {
		leg := genLeg(ctx, cfg, float64(int(rate)))
		res.Ladder = append(res.Ladder, leg)
		logf("generator at %.0f req/s: %s", leg.Rate, leg.delays())
		if leg.KeptSchedule {
			res.MaxKeptRPS = max(res.MaxKeptRPS, leg.Rate)
		} else if missed == 0 || leg.Rate < missed {
			missed = leg.Rate
		}
		return leg
	}
	for _, f := range steps {
		if ctx.Err() != nil {
			break
		}
		if leg := try(heyMax * f); leg.KeptSchedule != res.Gen.KeptSchedule {
			break
		}
	}
	if ctx.Err() == nil && res.MaxKeptRPS > 0 && missed > res.MaxKeptRPS {
		try((res.MaxKeptRPS + missed) / 2)
	}
	return res, ctx.Err()
}

// heyLeg runs hey against the handler for d: closed loop when rate is 0,
// else rate requests per second over its C workers. It reports hey's
// requests per second, this process's CPU and the requests answered.
func heyLeg(ctx context.Context, cfg GenVsHeyConfig, rate float64, d time.Duration) (float64, time.Duration, int, error) {
	tmpl, err := NewJobRequest(ctx, cfg.Base, Request{ID: "hey", Kind: "io"})
	if err != nil {
		return 0, 0, 0, err
	}
	body := jobBody(Request{ID: "hey", Kind: "io"})
	n := 1 << 30
	if rate > 0 {
		n = int(rate*d.Seconds()) + cfg.C
	}
	var out bytes.Buffer
	w := &requester.Work{Request: tmpl, RequestBody: body, N: n, C: cfg.C, QPS: rate / float64(cfg.C), Timeout: 10,
		Output: "{{ .Rps }} {{ len .Lats }}", Writer: &out}
	cpu0 := cpuTime()
	w.Init()
	done := make(chan struct{})
	go func() { w.Run(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.Stop()
		<-done
	case <-ctx.Done():
		w.Stop()
		<-done
	}
	cpu := cpuTime() - cpu0
	var rps float64
	var got int
	if _, err := fmt.Sscan(strings.TrimSpace(out.String()), &rps, &got); err != nil {
		return 0, 0, 0, fmt.Errorf("read hey's output %q: %w", out.String(), err)
	}
	return rps, cpu, got, nil
}

// genLeg runs the generator, open loop, at rate for cfg.Duration, and
// accounts it the way a bench run is accounted. Like a bench run's, its
// connections are warmed first, at the same rate.
func genLeg(ctx context.Context, cfg GenVsHeyConfig, rate float64) GenLeg {
	sender := NewSender(cfg.Base, 10*time.Second)
	defer sender.Close()
	sc := Scenario{Name: "gen", Rate: rate}
	var warm Collector
	Fire(ctx, RealClock{}, time.Now().Add(5*time.Millisecond), &Paced{Rate: Constant(rate), Duration: cfg.Duration / 5}, func(seq int, due time.Time) {
		sender.Post(ctx, sc.Request("w-", seq, due), &warm)
	})
	warm.Wait(ctx)
	var c Collector
	cpu0 := cpuTime()
	start := time.Now().Add(5 * time.Millisecond)
	pace := Fire(ctx, RealClock{}, start, &Paced{Rate: Constant(rate), Duration: cfg.Duration}, func(seq int, due time.Time) {
		sender.Post(ctx, sc.Request("g-", seq, due), &c)
	})
	c.Wait(ctx)
	outs := c.Outcomes()
	a := Account(Record{Start: start, End: start.Add(cfg.Duration), DrainEnd: time.Now(), Requests: outs})
	cpu := cpuTime() - cpu0
	delays := sendDelays(outs)
	leg := GenLeg{Rate: rate, Fired: pace.Fired, Sent: len(outs), Note: pace.Note,
		SendDelayP99: time.Duration(delays.ValueAtQuantile(99)) * time.Microsecond,
		PaceP99:      time.Duration(pace.SendDelay.ValueAtQuantile(99)) * time.Microsecond}
	if n := a.Run.Sent; n > 0 {
		leg.CPUPerReqUS = float64(cpu.Microseconds()) / float64(n)
	}
	leg.InvalidReason = Validity(pace.Fired, len(outs), sendDelays(ownPace(outs)), 0, cfg.Bound)
	leg.KeptSchedule = leg.InvalidReason == ""
	return leg
}

// BareHandler answers every job 202 and everything else 200, doing no work:
// the handler both load tools are measured against.
func BareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/jobs" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"accepted"}`))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
