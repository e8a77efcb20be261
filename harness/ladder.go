package harness

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/offload/offload/harness/rules"
	"github.com/offload/offload/internal/latency"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/results"
)

// ladderState is what the capacity ladder carries from one step to the next.
type ladderState struct {
	prefix     string // every job id of this ladder starts with it
	seq        int
	accepts    []time.Time // every 2xx answer so far
	acceptedIO int         // accepted jobs the sink owes
	baseUnique int         // deliveries before the ladder (the pipeline check)
	judge      bool        // deliveries are still judged
	// deliveryFails is the delivery failures in a row: two end the
	// judging, since past them the backlog earlier steps left decides
	// every later verdict.
	deliveryFails int
}

// ladder is the capacity scenario: open-loop steps at rates a Climb
// chooses, climbing until two steps in a row fail their answers, then
// bisecting to the knee. Deliveries are judged at every step until two in a
// row fall behind; the climb goes on for the accept figure, since taking
// more than the workers can deliver is what a queue is for.
func (r *run) ladder(ctx context.Context, out results.Run) results.Run {
	b, l := r.b, *r.plan.Scenario.Ladder
	rule := DefaultRule()
	if b.Timing.SLO > 0 {
		rule.SLO = b.Timing.SLO
	}
	st := &ladderState{prefix: fmt.Sprintf("c%03d-", r.plan.Index), baseUnique: b.Sink.Stats().Unique,
		judge: r.plan.Strategy != Baseline && r.expectMail()}
	var whole Sampler
	observed := len(r.targets()) > 0
	if observed {
		whole.Begin(r.targets())
	}
	var steps []results.CapacityStep
	climb := l.Climb()
	rate, retries := 0.0, 0
	for ctx.Err() == nil {
		if retries == 0 {
			next, ok := climb.Next()
			if !ok {
				break
			}
			rate = next
		}
		sl := l
		if len(steps) == 0 {
			// The first step also warms the strategy up from idle: a
			// worker that sizes itself by load (the queue's multi-worker)
			// has not grown yet, and its ramp is not its capacity.
			sl.Warmup = max(l.Warmup, l.FirstWarmup)
		}
		r.setPhase(fmt.Sprintf("step %d: %s req/s", len(steps)+1, fmtRate(rate)), sl.Warmup+sl.StepLength(rate))
		s, ev, onlyBehind := r.step(ctx, st, sl, rule, rate)
		if ctx.Err() != nil && len(steps) > 0 {
			break // a step cut short by Ctrl-C judges nothing
		}
		if onlyBehind && retries < rules.StepRetries {
			// The generator, not the server, failed it: offer it again.
			retries++
			s.Retried, s.AcceptLimitedBy, s.AcceptEvidence = true, LimitGenerator, s.FailedBecause
			s.LimitedBy = LimitGenerator
			steps = append(steps, s)
			b.logf("[%d/%d] %s: %s req/s: the generator fell behind, offered again (%d of %d)",
				r.plan.Index, r.plan.Total, r.plan.label(), fmtRate(rate), retries, rules.StepRetries)
			continue
		}
		retries = 0
		if !s.AcceptOK {
			s.AcceptLimitedBy, s.AcceptEvidence = rules.Blame(ev, true)
			s.LimitedBy = s.AcceptLimitedBy
		}
		if s.DeliveryJudged {
			if s.DeliveryOK {
				st.deliveryFails = 0
			} else {
				s.DeliveryLimitedBy, s.DeliveryEvidence = rules.Blame(ev, false)
				s.LimitedBy = cmp.Or(s.LimitedBy, s.DeliveryLimitedBy)
				if st.deliveryFails++; st.deliveryFails >= 2 {
					st.judge = false
				}
			}
		}
		climb.Record(rate, s.AcceptOK)
		steps = append(steps, s)
		b.logf("[%d/%d] %s: %s req/s achieved %s delivered %s http p99 %sms backlog %+.0f/s cpu %.2fms/job %s",
			r.plan.Index, r.plan.Total, r.plan.label(), fmtRate(rate), fmtRate(s.AchievedRPS), fmtRate(s.DeliveredRPS),
			fmtMS(s.HTTPLatencyMS.P99), s.BacklogGrowthPerS, s.CPUMSPerJob, passWord(s))
	}
	sum := rules.Summarize(rule.SLO, l.MinRequests, steps)
	if sum.Steps == nil {
		sum.Steps = []results.CapacityStep{}
	}
	out.Capacity = &sum
	r.fillRun(&out, st, steps, &whole, observed)
	if r.plan.Loop == "node" || r.plan.Strategy == Baseline {
		b.noteCapacity(r.plan, sum)
	}
	out.Interrupted = ctx.Err() != nil
	return out
}

func passWord(s results.CapacityStep) string {
	if s.Passed {
		return "pass"
	}
	return "FAIL: " + s.FailedBecause
}

// fillRun sets the run's totals from the ladder, so the counts in
// results.json add up whatever scenario a reader looks at.
func (r *run) fillRun(out *results.Run, st *ladderState, steps []results.CapacityStep, whole *Sampler, observed bool) {
	for _, s := range steps {
		out.DurationS += s.DurationS
		out.Lost += s.Lost
		out.OfferedRPS = max(out.OfferedRPS, s.OfferedRPS)
	}
	out.DurationS = round3(out.DurationS)
	out.Sent = int64(st.seq)
	out.Accepted = int64(len(st.accepts))
	for _, d := range r.b.Sink.Deliveries() {
		if strings.HasPrefix(d.ID, st.prefix) {
			out.Delivered++
			out.Duplicates += int64(d.Count - 1)
		}
	}
	out.Rejected = out.Sent - out.Accepted
	if observed {
		whole.Sample(r.targets())
		out.Processes = whole.Use()
		for _, p := range out.Processes {
			out.CPUS += p.CPUS
			out.PeakRSSMB = max(out.PeakRSSMB, p.PeakRSSMB)
		}
		out.CPUS = round3(out.CPUS)
	}
}

// step runs one rate: a warm-up and the measured part on one schedule,
// the answers, then (while deliveries are judged) the wait for this step's
// jobs to reach the sink, and judges it.
func (r *run) step(ctx context.Context, st *ladderState, l Ladder, rule StepRule, rate float64) (results.CapacityStep, Evidence, bool) {
	b := r.b
	length := l.StepLength(rate)
	jobs := &Collector{}
	r.mu.Lock()
	r.jobs = jobs
	r.mu.Unlock()
	start := time.Now().Add(5 * time.Millisecond)
	measStart := start.Add(l.Warmup)
	end := measStart.Add(length)
	obs := r.observe(ctx, measStart, end)

	first := st.seq
	pace := Fire(ctx, b.clock(), start, &Paced{Rate: Constant(rate), Duration: l.Warmup + length}, func(seq int, due time.Time) {
		r.sender.Post(ctx, Request{Seq: first + seq, ID: fmt.Sprintf("%s%07d", st.prefix, first+seq), Kind: "io", Due: due}, jobs)
	})
	st.seq = first + pace.Fired
	ev := obs.wait()
	wctx, cancel := context.WithTimeout(ctx, b.Timing.RequestTimeout)
	jobs.Wait(wctx)
	cancel()

	var measured []Outcome
	var acceptedNow int64
	for _, o := range jobs.Outcomes() {
		if o.Accepted() {
			st.accepts = append(st.accepts, o.Done)
			st.acceptedIO++
			if !o.Due.Before(measStart) && o.Due.Before(end) {
				acceptedNow++
			}
		}
		if !o.Due.Before(measStart) && o.Due.Before(end) {
			measured = append(measured, o)
		}
	}
	var quiet time.Duration
	if st.judge {
		quiet = r.settle(ctx, st, l.Settle)
	}
	rec := rules.Step{Offered: rate, Start: measStart, End: end, Requests: ruleRequests(measured), Accepts: st.accepts,
		Delivered: map[string]time.Time{}, Quiet: quiet, JudgeDelivery: st.judge,
		SendDelayP99: latency.P99(sendDelays(measured)),
		OwnSendDelay: sendDelays(ownPace(measured)), PaceFloor: b.Timing.sendDelayBound()}
	for _, d := range b.Sink.Deliveries() {
		if strings.HasPrefix(d.ID, st.prefix) {
			rec.Delivered[d.ID] = d.First
			rec.Deliveries = append(rec.Deliveries, d.First)
		}
	}
	v := rule.Judge(rec)
	s := v.CapacityStep
	ev.Behind, ev.SendDelayP99, ev.Loop = v.Behind != "", rec.SendDelayP99, r.plan.Loop
	ev.Senders, ev.Observed = r.senders(), len(r.targets()) > 0
	s.CPUCores, s.LagP99MS, s.LagMaxMS, s.SinkInFlight = ev.CPU, ev.LagP99MS, obs.lagMax, round3(ev.SinkInFlight)
	if acceptedNow > 0 {
		s.CPUMSPerJob = round3(obs.strategyCPU * 1000 / float64(acceptedNow))
		s.RSSKBPerJob = round3(max(0, obs.rssMB-obs.rssBaseMB) * 1024 / float64(acceptedNow))
	}
	s.RSSMB = round3(obs.rssMB)
	s.StealMS, s.GCPauseMaxMS = obs.host.StealMS, obs.host.GCPauseMaxMS
	if v.Behind != "" {
		s.FailedBecause += "; likely cause: " + obs.host.Cause(end.Sub(measStart), runtime.NumCPU(), rec.OwnSendDelayP99())
	}
	return s, ev, v.OnlyBehind
}

// settle waits for every job the ladder accepted to reach the sink: until
// none is owed, until Quiet has passed without a delivery (so that a job
// counted lost was waited for that long), or, while deliveries keep
// arriving, up to twice bound. It returns how long no delivery had arrived
// when it stopped (0 when none was owed).
func (r *run) settle(ctx context.Context, st *ladderState, bound time.Duration) time.Duration {
	b := r.b
	start, lastProgress, seen := time.Now(), time.Now(), -1
	wait.Until(ctx, 2*bound+Quiet, func() bool {
		n := b.Sink.Stats().Unique - st.baseUnique
		if n != seen {
			seen, lastProgress = n, time.Now()
		}
		if n >= st.acceptedIO {
			return true
		}
		quiet := time.Since(lastProgress)
		return quiet >= Quiet || time.Since(start) > 2*bound
	})
	if b.Sink.Stats().Unique-st.baseUnique >= st.acceptedIO {
		return 0
	}
	return time.Since(lastProgress)
}

// observation is what a step collected about the processes while it ran.
type observation struct {
	done        chan struct{}
	ev          Evidence
	strategyCPU float64 // CPU seconds of the strategy's processes
	rssBaseMB   float64
	rssMB       float64
	lagMax      float64
	host        HostUse // steal and the bench's GC over the step's measured part
}

func (o *observation) wait() Evidence { <-o.done; return o.ev }

// observe samples, over [from, to): CPU of every process of the run and of
// the bench itself, their memory, the web's loop lag and the sink's
// messages in flight.
func (r *run) observe(ctx context.Context, from, to time.Time) *observation {
	o := &observation{done: make(chan struct{}), ev: Evidence{Cores: runtime.NumCPU(), CPU: map[string]float64{}}}
	go func() {
		defer close(o.done)
		clk := r.b.clock()
		if clk.SleepUntil(ctx, from) != nil {
			return
		}
		host := markHost()
		client := &http.Client{Timeout: time.Second}
		lagOK := lagReset(ctx, client, r.base) == nil
		var s Sampler
		targets := r.targets()
		s.Begin(targets)
		o.rssBaseMB = rssMB(targets)
		self0, _ := ReadProc("/proc", os.Getpid())
		began := time.Now()
		var inFlight, samples float64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for time.Now().Before(to) && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-tick.C:
				inFlight += float64(r.b.Sink.Stats().InFlight)
				samples++
				if n++; n%10 == 0 {
					s.Sample(r.targets())
				}
			}
		}
		targets = r.targets()
		s.Sample(targets)
		self1, _ := ReadProc("/proc", os.Getpid())
		o.host = host.since()
		secs := time.Since(began).Seconds()
		if secs <= 0 {
			return
		}
		for _, u := range s.Use() {
			o.ev.CPU[u.Role] = round3(u.CPUS / secs)
			o.strategyCPU += u.CPUS
			o.rssMB += u.PeakRSSMB
		}
		o.ev.CPU["bench"] = round3(float64(self1.CPUTicks-min(self1.CPUTicks, self0.CPUTicks)) / clockTicks / secs)
		if samples > 0 {
			o.ev.SinkInFlight = inFlight / samples
		}
		if lagOK {
			if snap, err := lagSnapshot(ctx, client, r.base); err == nil {
				o.ev.LagP99MS, o.lagMax = snap.P99, snap.Max
			}
		}
	}()
	return o
}

// rssMB sums the targets' peak resident memory now.
func rssMB(targets []Target) float64 {
	var kb uint64
	for _, t := range targets {
		if st, err := ReadProc("/proc", t.PID); err == nil {
			kb += st.PeakRSSKB
		}
	}
	return float64(kb) / 1024
}

// capacityKey names a ladder's series for the scale scenario to find.
func capacityKey(strategy, variant string) string { return strategy + "|" + variant }

// noteCapacity keeps a ladder's result for the scale runs that follow.
func (b *Bench) noteCapacity(p Plan, c results.Capacity) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.capacity == nil {
		b.capacity = map[string]results.Capacity{}
	}
	b.capacity[capacityKey(p.Strategy, p.Variant.Name)] = c
}

func (b *Bench) capacityFor(strategy, variant string) (results.Capacity, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.capacity[capacityKey(strategy, variant)]
	return c, ok
}

// ruleRequests is outs as the step rule reads them.
func ruleRequests(outs []Outcome) []rules.Request {
	rs := make([]rules.Request, len(outs))
	for i, o := range outs {
		rs[i] = rules.Request{ID: o.ID, Due: o.Due, Done: o.Done, Accepted: o.Accepted()}
	}
	return rs
}
