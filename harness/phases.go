package harness

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

// execute runs one plan through its phases: set-up, warm-up (discarded),
// measure, drain, accounting, hey, tear-down. ctx ending (Ctrl-C) cuts the
// current phase short; what was measured is still accounted.
func (b *Bench) execute(ctx context.Context, p Plan) (out results.Run) {
	out = p.newRun()
	if p.NA != "" {
		out.NAReason = p.NA
		b.logf("[%d/%d] %s: n/a (%s)", p.Index, p.Total, p.label(), p.NA)
		return out
	}
	if p.Scenario.Name == Scale && b.Target == "" {
		var notes []string
		p, notes = b.scaleLoad(ctx, p)
		out.OfferedRPS = p.Scenario.Rate
		out.Notes = append(out.Notes, notes...)
	}
	began := time.Now()
	r := &run{b: b, plan: p}
	defer func() { out.WallS = round3(time.Since(began).Seconds()) }()

	r.setPhase("setup", 0)
	closeEnv, err := r.setup(ctx)
	if err != nil {
		out.Invalid = "set-up failed: " + err.Error()
		b.logf("[%d/%d] %s: %s", p.Index, p.Total, p.label(), out.Invalid)
		if cerr := closeEnv(); cerr != nil {
			out.Notes = append(out.Notes, cerr.Error())
			b.noteOrphans(cerr)
		}
		return out
	}
	defer func() {
		if cerr := closeEnv(); cerr != nil {
			out.Notes = append(out.Notes, cerr.Error())
			b.noteOrphans(cerr)
		}
	}()
	progressCtx, stopProgress := context.WithCancel(context.Background())
	defer stopProgress()
	go r.ticker(progressCtx)

	if p.Scenario.Ladder != nil {
		switch {
		case b.Target != "":
			r.targetWarmup(ctx, fmt.Sprintf("w%03d-", p.Index))
		case p.Strategy != Baseline: // which delivers nothing
			r.awaitPipeline(ctx, fmt.Sprintf("w%03d-", p.Index))
		}
		return r.ladder(ctx, out)
	}
	r.warmup(ctx)
	m := r.measure(ctx)
	drainStart := time.Now()
	deliveries := r.drain(ctx, m)
	m.interrupted = ctx.Err() != nil
	out, hists := r.account(out, m, deliveries, drainStart)
	if p.Scenario.Hey > 0 && ctx.Err() == nil {
		r.setPhase("hey", p.Scenario.Hey)
		h, raw, err := Hey(ctx, r.base, p.Scenario, fmt.Sprintf("h%03d-", p.Index), p.Scenario.Hey, b.Timing.HeyC)
		if err != nil {
			out.Notes = append(out.Notes, "hey: "+err.Error())
		}
		out.Hey, hists[results.HistHey] = h, raw
	}
	if rel, err := results.WriteHistograms(b.Out, &out, p.Index, hists); err != nil {
		out.Notes = append(out.Notes, "histograms not kept: "+err.Error())
	} else {
		out.Histograms = rel
	}
	out.Interrupted = ctx.Err() != nil
	return out
}

// setup starts the run's processes (or points at --target) and gives the
// sink a clean record. The returned close func is never nil.
func (r *run) setup(ctx context.Context) (func() error, error) {
	b := r.b
	b.Sink.Reset()
	if b.Target != "" {
		r.base = strings.TrimRight(b.Target, "/")
		r.sender = NewSender(r.base, b.Timing.RequestTimeout)
		return func() error { r.sender.Close(); return nil }, nil
	}
	logf, err := OpenLog(b.Out, fmt.Sprintf("%03d", r.plan.Index))
	if err != nil {
		return func() error { return nil }, err
	}
	start := func() (*Env, error) {
		if r.plan.Strategy == Baseline {
			return StartBaseline(ctx, b.Exe, logf, b.sutCPUs())
		}
		f := r.plan.Scenario.Fault
		return StartEnv(ctx, EnvConfig{Exe: b.Exe, Strategy: r.plan.Strategy, Entry: r.plan.Entry,
			Variant: r.plan.Variant, Workers: r.plan.Workers, Concurrency: r.plan.Concurrency, Loop: r.plan.Loop, SMTP: b.Sink.Addr(), Output: logf, CPUs: b.sutCPUs(),
			Partition: f != nil && f.Kind == FaultPartition, Sink: b.Sink})
	}
	env, err := start()
	if err != nil {
		logf.Close()
		return func() error { return nil }, err
	}
	fmt.Fprintf(logf, "harness | run %s: %s\n", r.plan.label(), strings.Join(env.webArgs(), " "))
	r.env, r.base = env, env.URL()
	r.sender = NewSender(r.base, b.Timing.RequestTimeout)
	return func() error {
		r.sender.Close()
		err := env.Close()
		logf.Close()
		return err
	}, nil
}

// warmup first waits until one job goes all the way to the sink (workers
// connected, subscriptions confirmed), then sends the scenario's io load for
// a moment and waits (bounded) for the mail of its last jobs, so pools and
// connections are warm. None of it counts.
func (r *run) warmup(ctx context.Context) {
	b := r.b
	r.setPhase("warmup", b.Timing.Warmup)
	prefix := fmt.Sprintf("w%03d-", r.plan.Index)
	if b.Target != "" {
		r.targetWarmup(ctx, prefix)
		return
	}
	if !r.awaitPipeline(ctx, prefix) {
		b.logf("  no warm-up job reached the sink within 10s; measuring anyway")
	}
	var c Collector
	s := Scenario{Name: "warmup", Rate: r.plan.Scenario.Rate}
	Fire(ctx, b.clock(), time.Now(), &Paced{Rate: Constant(s.Rate), Duration: b.Timing.Warmup}, func(seq int, due time.Time) {
		r.sender.Post(ctx, s.Request(prefix, seq, due), &c)
	})
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c.Wait(wctx)
	var want []string
	for _, o := range c.Outcomes() {
		if o.Accepted() && o.Seq >= c.sentCount()*3/4 {
			want = append(want, o.ID)
		}
	}
	wait.Until(ctx, 2*time.Second, func() bool { return r.allDelivered(want) })
}

// awaitPipeline sends one job at a time until one is delivered.
func (r *run) awaitPipeline(ctx context.Context, prefix string) bool {
	var ids []string
	var c Collector
	defer func() {
		wctx, cancel := context.WithTimeout(ctx, r.b.Timing.RequestTimeout)
		defer cancel()
		c.Wait(wctx)
	}()
	next := time.Now()
	return wait.Until(ctx, 10*time.Second, func() bool {
		if time.Now().After(next) {
			req := Request{Seq: len(ids), ID: fmt.Sprintf("%sready%03d", prefix, len(ids)), Kind: "io", Due: time.Now()}
			ids = append(ids, req.ID)
			r.sender.Post(ctx, req, &c)
			next = time.Now().Add(50 * time.Millisecond)
		}
		for _, id := range ids {
			if _, ok := r.b.Sink.Delivery(id); ok {
				return true
			}
		}
		return false
	})
}

func (r *run) allDelivered(ids []string) bool {
	for _, id := range ids {
		if _, ok := r.b.Sink.Delivery(id); !ok {
			return false
		}
	}
	return true
}

// measure is the measured phase: the open-loop schedule, the probes, the
// fault, the /proc sampler and the lag monitor, all from one start time.
func (r *run) measure(ctx context.Context) measured {
	b, sc := r.b, r.plan.Scenario
	client := &http.Client{Timeout: 2 * time.Second}
	if err := lagReset(ctx, client, r.base); err != nil {
		b.logf("  %v", err)
	}
	m := measured{jobs: &Collector{}, probes: &Collector{}}
	r.mu.Lock()
	r.jobs = m.jobs
	r.mu.Unlock()
	r.setPhase("measure", sc.Measure)
	if r.env != nil {
		r.sampler.Begin(r.env.Targets())
	}
	m.start = time.Now().Add(5 * time.Millisecond) // a moment to arm everything below
	m.cpu0 = cpuTime()
	host := markHost()
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() { defer close(sampled); r.sampleLoop(sampleCtx) }()

	faultDone := make(chan FaultWindow, 1)
	if sc.Fault != nil && r.env != nil || sc.Fault != nil && sc.Fault.Kind == FaultMailOutage {
		plan := *sc.Fault
		if r.env != nil && r.env.cfg.Entry.Layout() == catalog.Supervised && plan.Kind != FaultMailOutage {
			plan.For = 0 // the supervisor restarts its child itself; the repair is when it is back
		}
		go func() {
			faultDone <- RunFault(ctx, b.clock(), m.start, plan, &envInjector{env: r.env, sink: b.Sink, accepted: m.jobs.awaitAccept})
		}()
	} else {
		close(faultDone)
	}
	// A fault run's load goes on past its nominal length until recovery is
	// seen or its bound after the repair has passed (extendForRecovery
	// stops it); length is only a cap.
	length := sc.Measure
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	var faults <-chan FaultWindow = faultDone
	if sc.Fault != nil {
		length = sc.Measure + 2*(b.Timing.recoveryBound()+b.Timing.RecoveryWindow)
		faults = r.extendForRecovery(genCtx, &m, m.start.Add(sc.Measure), faultDone, stopGen)
	}
	probeSched := &Paced{Rate: Constant(b.Timing.ProbeRate), Duration: length}
	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		Generate(genCtx, b.clock(), m.start, probeSched, func(seq int, due time.Time) {
			m.probes.Go(func() Outcome { return r.sender.Probe(ctx, seq, due) })
		})
	}()
	prefix := fmt.Sprintf("r%03d-", r.plan.Index)
	var sched Schedule = &Paced{Rate: sc.Load, Duration: length}
	if b.Timing.Poisson {
		sched = &Poisson{Rate: sc.Load, Duration: length, Seed: b.Timing.Seed + uint64(r.plan.Index)}
	}
	if b.Generators > 1 {
		var err error
		if m.pace, err = r.fireRemote(genCtx, &m, sc, length, prefix); err != nil {
			m.remoteErr = err
			b.logf("[%d/%d] %s: generators: %v", r.plan.Index, r.plan.Total, r.plan.label(), err)
		}
	} else {
		m.pace = Fire(genCtx, b.clock(), m.start, sched, func(seq int, due time.Time) {
			r.sender.Post(ctx, sc.Request(prefix, seq, due), m.jobs)
		})
	}
	m.end = time.Now()
	m.host = host.since()
	if ctx.Err() == nil && (genCtx.Err() == nil || m.end.After(m.start.Add(length))) {
		m.end = m.start.Add(length) // the schedule ran out: it ends where it was due to
	}
	<-probesDone
	m.lag, m.lagErr = lagSnapshot(context.Background(), client, r.base)
	for w := range faults {
		m.faults = append(m.faults, w)
		break
	}
	stopSampling()
	<-sampled
	return m
}

func (r *run) sampleLoop(ctx context.Context) {
	if r.env == nil {
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sampler.Sample(r.env.Targets())
		}
	}
}

// drainQuiet is how long the drain waits past its bound for the next delivery.
const drainQuiet = 500 * time.Millisecond

// drain waits, bounded, for answers to every request and mail for every
// accepted io job, then cancels what is still in flight and returns the
// sink's record of this run's ids.
func (r *run) drain(ctx context.Context, m measured) map[string]Delivery {
	b := r.b
	r.setPhase("drain", b.Timing.Drain)
	// The drain ends when every accepted job is delivered, or at its bound
	// once no delivery has arrived for drainQuiet: a strategy still working
	// off its retries gets up to twice the bound, a lost job is not waited
	// for past it.
	start, lastProgress, delivered := time.Now(), time.Now(), -1
	wait.Until(ctx, 2*b.Timing.Drain, func() bool {
		if !r.expectMail() && r.sawDelivery(fmt.Sprintf("r%03d-", r.plan.Index)) {
			r.targetDelivers = true // its mail came after all: account it
		}
		sent, _ := m.jobs.Counts()
		outs := m.jobs.Outcomes()
		n, want := 0, 0
		for _, o := range outs {
			if o.Accepted() && o.Kind != "cpu" {
				want++
				if _, ok := b.Sink.Delivery(o.ID); ok {
					n++
				}
			}
		}
		if n != delivered {
			delivered, lastProgress = n, time.Now()
		}
		if int64(len(outs)) == sent && (n == want || !r.expectMail()) {
			return true
		}
		return time.Since(start) > b.Timing.Drain && time.Since(lastProgress) > drainQuiet
	})
	// Whatever is still unanswered now is answered by the request timeout;
	// the harness waits no longer than its drain bound for it.
	wctx, wcancel := context.WithTimeout(context.Background(), b.Timing.RequestTimeout)
	defer wcancel()
	m.jobs.Wait(wctx)
	m.probes.Wait(wctx)
	if r.env != nil {
		r.sampler.Sample(r.env.Targets())
	}
	prefix := fmt.Sprintf("r%03d-", r.plan.Index)
	out := map[string]Delivery{}
	for _, d := range b.Sink.Deliveries() {
		if strings.HasPrefix(d.ID, prefix) {
			out[d.ID] = Delivery{First: d.First, Count: d.Count}
		}
	}
	return out
}
