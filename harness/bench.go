package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/offload/offload/internal/cpuset"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/netcut"
	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies/catalog"
)

// Bench runs plans and writes results. Build it with the fields below and
// call Run.
type Bench struct {
	Exe    string         // the offload binary to start (os.Executable())
	Out    string         // results directory (created)
	Sink   *mailsink.Sink // the mail sink every strategy sends to
	Target string         // measure this externally started server instead of starting processes
	// TargetPIDs are the processes of an external target whose CPU
	// explains its knees (--target-pid); none: blame says "not observed".
	TargetPIDs []int
	Timing     Timing
	Repeat     int // runs of each plan, interleaved (--repeat); 0 or 1: once
	// Generators > 1 sends each measured phase's jobs from that many
	// generator processes (`offload generate`), merged from their files.
	Generators int
	// Concurrency is --concurrency for every process that sends mail in
	// every run (0: each strategy's own default).
	Concurrency int
	// AllVariants runs the Extended variants too (--variants all).
	AllVariants bool
	// Placement keeps the load side (this process: the generator and the
	// mail sink) and the system under test on their own CPUs; nil: no
	// pinning. Run pins this process; every process a run starts is
	// pinned as it starts.
	Placement *cpuset.Split
	Progress  func(results.Progress)
	Log       io.Writer // one line per phase; nil: none
	Clock     Clock     // default RealClock

	mu       sync.Mutex
	orphans  []string
	capacity map[string]results.Capacity // ladders run so far, for the scale runs
}

// sutCPUs is where the system under test runs (nil: anywhere).
func (b *Bench) sutCPUs() cpuset.Set {
	if b.Placement == nil {
		return nil
	}
	return b.Placement.SUT
}

// place pins this process to the load side's CPUs and sizes the Go runtime
// to them, returning what undoes it.
func (b *Bench) place() (func(), error) {
	if b.Placement == nil {
		return func() {}, nil
	}
	was, err := cpuset.Allowed(0)
	if err != nil {
		return func() {}, err
	}
	if err := cpuset.Pin(os.Getpid(), b.Placement.Load); err != nil {
		return func() {}, fmt.Errorf("pin the bench to cpus %s: %w", b.Placement.Load, err)
	}
	// One P more than the CPUs: the generator's firing thread sleeps in
	// nanosleep holding its P (preciseWait), and with a P per CPU the
	// senders would wait for the runtime to take it back, milliseconds
	// late on one CPU.
	prev := runtime.GOMAXPROCS(len(b.Placement.Load) + 1)
	return func() {
		runtime.GOMAXPROCS(prev)
		_ = cpuset.Pin(os.Getpid(), was)
	}, nil
}

func (b *Bench) clock() Clock {
	if b.Clock == nil {
		return RealClock{}
	}
	return b.Clock
}

func (b *Bench) logf(format string, args ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
}

func (b *Bench) noteOrphans(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.orphans = append(b.orphans, err.Error())
}

// Orphans lists processes that outlived their run (each was killed when found).
func (b *Bench) Orphans() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.orphans...)
}

// Plans expands strategies x scenarios into runs: loops for cpu, worker
// counts for scale, variants (pubsub over zmq), and n/a entries with their
// reason.
func (b *Bench) Plans(strategies, scenarios []string, quick bool) ([]Plan, error) {
	var plans []Plan
	for _, st := range strategies {
		entry, err := catalog.Lookup(st)
		if err != nil && b.Target == "" && st != Baseline {
			return nil, err
		}
		variants := []catalog.Variant{{}}
		for _, v := range entry.Variants {
			switch {
			case quick && len(v.Quick) == 0:
			case !quick && v.Extended && !b.AllVariants:
			default:
				variants = append(variants, v)
			}
		}
		for _, v := range variants {
			for _, name := range scenarios {
				if quick && v.Name != "" && !slices.Contains(v.Quick, name) {
					continue // --quick keeps a variant for what only it can show
				}
				sc, err := b.Timing.Build(name)
				if err != nil {
					return nil, err
				}
				plans = append(plans, b.expand(entry, st, sc, v, quick)...)
			}
		}
	}
	plans = Interleave(plans, b.Repeat)
	for i := range plans {
		plans[i].Index, plans[i].Total = i+1, len(plans)
	}
	return plans, nil
}

// Interleave repeats plans n times round-robin: the whole plan once, then
// again, so slow drift of a shared machine (another job starting, a
// thermal limit) spreads over every strategy instead of landing on the
// last ones. An n/a plan measures nothing and appears once.
func Interleave(plans []Plan, n int) []Plan {
	if n <= 1 {
		return plans
	}
	out := make([]Plan, 0, n*len(plans))
	for rep := range n {
		for _, p := range plans {
			if p.NA != "" && rep > 0 {
				continue
			}
			p.Repeat = rep
			out = append(out, p)
		}
	}
	return out
}

func (b *Bench) expand(e catalog.Entry, st string, sc Scenario, v catalog.Variant, quick bool) []Plan {
	base := Plan{Strategy: st, Entry: e, Scenario: sc, Variant: v, Loop: "node", Workers: 1, Concurrency: b.Concurrency}
	if st == Baseline {
		if sc.Name != Capacity {
			base.NA = baselineNA
		}
		return []Plan{base}
	}
	na := b.naReason(e, sc, v)
	if na != "" {
		base.NA = na
		return []Plan{base}
	}
	if b.Target != "" {
		// A server started by someone else has the loop it has: the
		// scenario runs once, named without a loop model.
		base.Loop = ""
		return []Plan{base}
	}
	var out []Plan
	loops := sc.Loops
	if quick || v.Name != "" {
		loops = loops[:1] // the loop comparison is in the full bench, default variant
	}
	if sc.Name == Capacity && e.Layout() != catalog.WebOnly {
		loops = loops[:1] // only a job run in the web process meets the loop model twice
	}
	for _, loop := range loops {
		for _, w := range sc.Workers {
			p := base
			p.Loop, p.Workers = loop, w
			out = append(out, p)
		}
	}
	return out
}

func (b *Bench) naReason(e catalog.Entry, sc Scenario, v catalog.Variant) string {
	if b.Target != "" {
		switch sc.Name {
		case Steady, CPU, Burst, MailOutage, Capacity:
			return ""
		}
		return "external target (--target): the harness does not control its processes"
	}
	if r := e.NAReason(sc.Name, v); r != "" {
		return r
	}
	if sc.Fault != nil && sc.Fault.Kind == FaultPartition {
		if err := netcut.Available(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// Run executes plans in order, then writes results.json and results.csv.
// Ctrl-C (ctx ending) stops after the run under way, which is kept.
func (b *Bench) Run(ctx context.Context, env results.Env, plans []Plan) (*results.File, error) {
	if err := os.MkdirAll(b.Out, 0o755); err != nil {
		return nil, fmt.Errorf("results dir: %w", err)
	}
	unplace, err := b.place()
	if err != nil {
		return nil, err
	}
	defer unplace()
	f := &results.File{Schema: results.Schema, Env: env, Runs: []results.Run{}}
	// A bench killed outright never removed its partition namespaces.
	removed, err := netcut.Sweep(ctx)
	if len(removed) > 0 {
		b.logf("removed what dead benches left: %s", strings.Join(removed, ", "))
	}
	if err != nil {
		b.logf("sweep of stale partition namespaces: %v", err)
	}
	for _, p := range plans {
		if ctx.Err() != nil {
			b.logf("interrupted: %d of %d runs done", len(f.Runs), len(plans))
			break
		}
		r := b.execute(ctx, p)
		f.Runs = append(f.Runs, r)
		b.reportDone(p, r)
	}
	f.Env.End = time.Now()
	if err := results.Write(filepath.Join(b.Out, "results.json"), f); err != nil {
		return f, err
	}
	if err := results.WriteCSV(filepath.Join(b.Out, "results.csv"), f); err != nil {
		return f, err
	}
	return f, nil
}

func (b *Bench) reportDone(p Plan, r results.Run) {
	if b.Progress == nil {
		return
	}
	phase := "done"
	if r.NAReason != "" {
		phase = "n/a"
	}
	b.Progress(results.Progress{Index: p.Index, Total: p.Total, Strategy: p.Strategy, Scenario: p.Scenario.Name,
		Variant: r.Variant, Phase: phase, Sent: r.Sent, Accepted: r.Accepted, Delivered: r.Delivered, Done: &r})
}
