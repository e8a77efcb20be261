package harness

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

// A drain measures delivery capacity the way consumer throughput is
// usually measured: fill a backlog of K jobs with the workers stopped,
// start them, and time the backlog from its first delivery to its last.
// The workers always have work waiting, so neither an offered rate nor a
// warm-up step can blur the figure. Only strategies that keep a backlog
// while no worker runs can be drained: the queue and the event bus in
// Redis, and pubsub over ZeroMQ at the web side.

// DrainPlan is a drain's size and shape.
type DrainPlan struct {
	PerWorker   int           // jobs in the backlog per worker started
	Concurrency int           // senders per worker (--concurrency); 0: the strategy's default
	Bound       time.Duration // the drain gives up this long after its first delivery
}

// Drainable says whether the strategy in variant v keeps a backlog while
// its workers are stopped ("" if so, else why not).
func Drainable(e catalog.Entry, v catalog.Variant) string {
	switch {
	case e.Layout() == catalog.WebOnly:
		return "no workers to stop: the jobs run inside the web process"
	case e.Layout() == catalog.Supervised:
		return "the supervisor relays each job to its worker child at once and declares a child that stops reading dead, so no backlog can wait for it"
	case e.Name == "pubsub" && v.Transport != "zmq":
		return "redis PUBLISH keeps no backlog: a message published while no subscriber listens is dropped"
	}
	return ""
}

// fillParallel is how many fill requests are in flight at once.
const fillParallel = 32

// drainBacklog runs the drain on the run's environment, whose workers
// were held (EnvConfig.HoldWorkers), and records it in out.
func (r *run) drainBacklog(ctx context.Context, out results.Run, d DrainPlan) results.Run {
	b, p := r.b, r.plan
	workers := max(1, p.Workers)
	k := d.PerWorker * workers
	prefix := fmt.Sprintf("d%03d-", p.Index)
	res := results.Drain{Jobs: k, Workers: workers, Concurrency: d.Concurrency}

	// Fill: K jobs, fillParallel at a time, with nothing consuming them.
	r.setPhase("fill", 0)
	jobs := &Collector{}
	r.mu.Lock()
	r.jobs = jobs
	r.mu.Unlock()
	fillStart := time.Now()
	sem := make(chan struct{}, fillParallel)
	for seq := range k {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		jobs.begin()
		req := Request{Seq: seq, ID: jobID(prefix, seq), Kind: "io", Due: time.Now()}
		r.sender.post(ctx, req, func(o Outcome) { jobs.finish(o); <-sem })
	}
	wctx, cancel := context.WithTimeout(ctx, b.Timing.RequestTimeout)
	jobs.Wait(wctx)
	cancel()
	res.FillS = round3(time.Since(fillStart).Seconds())
	accepted := map[string]bool{}
	for _, o := range jobs.Outcomes() {
		if o.Accepted() {
			accepted[o.ID] = true
		}
	}
	res.Accepted = len(accepted)
	res.Early = r.countDelivered(prefix)
	r.b.logf("[%d/%d] %s: backlog of %d filled in %.2fs", p.Index, p.Total, p.label(), res.Accepted, res.FillS)

	// Drain: start the workers, the sampler and /proc/stat together.
	r.setPhase("drain", d.Bound)
	if r.env != nil {
		r.sampler.Begin(r.env.Targets())
	}
	m0 := readMachine("/proc")
	sink0 := b.Sink.Stats()
	started := time.Now()
	if err := r.startHeld(ctx); err != nil {
		out.Invalid = "workers did not start: " + err.Error()
		out.Drain = &res
		return out
	}
	var inFlight, samples float64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
				r.sampler.Sample(r.env.Targets())
				inFlight += float64(b.Sink.Stats().InFlight)
				samples++
			}
		}
	}()
	// The bound runs from the workers' start: a strategy that cannot
	// deliver at all must not hold the bench.
	wait.Until(ctx, d.Bound, func() bool { return r.countDelivered(prefix) >= res.Accepted })
	// A moment more for duplicates: a job delivered twice shows it now.
	time.Sleep(200 * time.Millisecond)
	stopSampling()
	<-sampled
	r.sampler.Sample(r.env.Targets())
	m1 := readMachine("/proc")
	sink1 := b.Sink.Stats()

	var first, last time.Time
	for _, dl := range b.Sink.Deliveries() {
		if !strings.HasPrefix(dl.ID, prefix) || !accepted[dl.ID] {
			continue
		}
		res.Delivered++
		res.Duplicates += dl.Count - 1
		if first.IsZero() || dl.First.Before(first) {
			first = dl.First
		}
		if dl.First.After(last) {
			last = dl.First
		}
	}
	res.Complete = res.Delivered == res.Accepted
	if !first.IsZero() {
		res.StartS = round3(first.Sub(started).Seconds())
		res.DrainS = round3(last.Sub(first).Seconds())
	}
	if span := last.Sub(first).Seconds(); span > 0 && res.Delivered > 1 {
		res.RPS = round3(float64(res.Delivered-1) / span)
		res.PerWorkerRPS = round3(res.RPS / float64(workers))
	}
	if samples > 0 {
		res.SinkInFlight = round3(inFlight / samples)
	}
	res.Throttled = sinkThrottled(sink1) - sinkThrottled(sink0)
	res.MachineBusy = round3(m1.busyShare(m0))
	use := r.sampler.Use()
	wall := time.Since(started).Seconds()
	res.CPUMSPerJob, res.CPUCores = drainCPU(use, res.Delivered, wall, r.zmqBroker())

	out.Drain = &res
	out.Sent, out.Accepted = int64(k), int64(res.Accepted)
	out.Delivered, out.Duplicates = int64(res.Delivered), int64(res.Duplicates)
	out.Lost = int64(res.Accepted - res.Delivered)
	out.DurationS, out.DrainS = res.DrainS, round3(wall)
	out.ThroughputRPS.Delivered = res.RPS
	out.Processes = use
	for _, u := range use {
		out.CPUS += u.CPUS
	}
	out.CPUS = round3(out.CPUS)
	if res.Delivered > 0 {
		out.CPUPer1kS = round3(out.CPUS / float64(res.Delivered) * 1000)
	}
	out.Throttled = res.Throttled
	switch {
	case res.Early > 0:
		out.Invalid = fmt.Sprintf("%d jobs were delivered before the workers started: the backlog was not held", res.Early)
	case !res.Complete:
		out.Notes = append(out.Notes, fmt.Sprintf("drain incomplete: %d of %d delivered within %v", res.Delivered, res.Accepted, d.Bound))
	}
	out.Notes = append(out.Notes, fmt.Sprintf("drained a backlog of %d at %s jobs/s (%d workers x %d senders)",
		res.Accepted, fmtRate(res.RPS), workers, d.Concurrency))
	return out
}

// startHeld starts the workers StartEnv held back.
func (r *run) startHeld(ctx context.Context) error {
	if r.env == nil {
		return fmt.Errorf("no environment to start workers in")
	}
	return r.env.StartWorkers(ctx)
}

// zmqBroker says whether the web process is the broker (pubsub over zmq).
func (r *run) zmqBroker() bool { return r.plan.Variant.Transport == "zmq" }

// countDelivered counts the sink's distinct ids with prefix.
func (r *run) countDelivered(prefix string) int {
	n := 0
	for _, d := range r.b.Sink.Deliveries() {
		if strings.HasPrefix(d.ID, prefix) {
			n++
		}
	}
	return n
}

// drainCPU splits the processes' CPU per delivery into workers, broker,
// web and total (milliseconds), and cores busy per role over wall seconds.
func drainCPU(use []results.ProcessUse, delivered int, wall float64, webIsBroker bool) (map[string]float64, map[string]float64) {
	per, cores := map[string]float64{}, map[string]float64{}
	for _, u := range use {
		class := "web"
		switch {
		case strings.HasPrefix(u.Role, "worker-") || u.Role == "supervisor/work" || u.Role == "audit":
			class = "workers"
		case u.Role == "redis" || strings.HasPrefix(u.Role, "redis-"):
			class = "broker"
		case webIsBroker && u.Role == "web":
			class = "broker"
		}
		per[class] += u.CPUS
		per["total"] += u.CPUS
		if wall > 0 {
			cores[u.Role] = round3(u.CPUS / wall)
		}
	}
	for c, s := range per {
		if delivered > 0 {
			per[c] = round3(s * 1000 / float64(delivered))
		} else {
			per[c] = 0
		}
	}
	return per, cores
}

// machineTicks is the first line of /proc/stat: every core's busy and
// total ticks since boot.
type machineTicks struct{ busy, total uint64 }

func readMachine(root string) machineTicks {
	f, err := os.Open(root + "/stat")
	if err != nil {
		return machineTicks{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return machineTicks{}
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return machineTicks{}
	}
	var m machineTicks
	for i, v := range fields[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			continue
		}
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		m.total += n
		if i != 3 && i != 4 { // idle and iowait
			m.busy += n
		}
	}
	return m
}

// busyShare is the share of all cores busy between m0 and m.
func (m machineTicks) busyShare(m0 machineTicks) float64 {
	if m.total <= m0.total {
		return 0
	}
	return float64(m.busy-m0.busy) / float64(m.total-m0.total)
}

// workerArgs are what the scenario adds to every worker's command line:
// the drain's senders per worker.
func (s Scenario) workerArgs() []string {
	if s.Drain != nil && s.Drain.Concurrency > 0 {
		return []string{"--concurrency", strconv.Itoa(s.Drain.Concurrency)}
	}
	return nil
}
