// Package catalog is the one place that says what each strategy is: its
// name and place in the talk's order, what it needs (Redis, workers, a
// transport), how offload run and the bench start it, which scenarios make
// no sense for it and why, and how charts draw it. The commands, the
// harness and the conformance suite read it; nothing else lists strategies,
// and reports learn the drawing facts from results.json, where the harness
// copies them.
//
// Adding a strategy is one package under strategies/ plus one Entry in
// entries below.
package catalog

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/offload/offload/results"
	"github.com/offload/offload/strategies"
)

// Entry is everything the rest of the program knows about one strategy.
type Entry struct {
	Name        string
	Description string // one line, for --help and the docs

	// New builds the web side from the common configuration, with the
	// strategy's own options at their defaults (tests and the conformance
	// suite use it).
	New func(strategies.Config) (strategies.Strategy, error)
	// WebFlags, when set, registers the strategy's own `offload serve` flags on
	// fs and returns the constructor to use once they are parsed. nil: the
	// strategy has no web flags and New is used.
	WebFlags func(fs *flag.FlagSet) func(strategies.Config) (strategies.Strategy, error)
	// Worker, when set, is the `offload work` side: it registers the
	// worker's own flags on fs and returns what to run once they are
	// parsed. nil: the jobs run in the web process.
	Worker func(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.WorkConfig) error
	// Run, when set, replaces offload run's generic supervision once the
	// mail sink (and Redis) are up: a strategy that must own its children
	// (localipc's leader passes messages between them). The bench starts
	// such a strategy through `offload run` too.
	Run func(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.RunConfig) error

	// Redis: offload run and the bench start a redis-server for it unless
	// one is given, except for the transports in NoRedisTransports.
	Redis             bool
	NoRedisTransports []string
	// Durable: the strategy stores jobs in Redis and honours --durable
	// wait (a 202 only once a replica has the job); --durable wait is
	// refused for the others.
	Durable bool
	// ClusterArgs spread the strategy over a cluster's masters (--shards 3,
	// --partitions 3): offload run --redis-cluster and the bench's cluster
	// variants give them to the web process and every worker, unless the
	// user set the flag.
	ClusterArgs []string
	// NodeReference is the talk's program for this strategy on real Node
	// (reference/node), and NodeWorker its worker's program with its own
	// arguments beside the sink and Redis ones: `make node-vs-model` runs
	// them beside the strategy under --loop node. Empty: none.
	NodeReference string
	NodeWorker    []string
	// FailoverKey is a key that holds jobs once ClusterArgs spread the
	// strategy over a cluster (the first queue shard, the first event
	// partition): the bench's broker-failover kills the master that
	// serves it, so the fault hits a master with work on it.
	FailoverKey string

	// Extra are fixed further `offload work` processes, one each whatever
	// the worker count: role -> arguments added to the common ones (the
	// event bus's audit consumer).
	Extra map[string][]string
	// BenchWorkerArgs are added to every job worker the bench starts:
	// timeouts shortened so a fault's recovery fits inside a run.
	BenchWorkerArgs []string
	// NA: scenario -> why it makes no sense for this strategy.
	NA map[string]string
	// Variants are further configurations the bench runs through the same
	// scenarios (pubsub over ZeroMQ).
	Variants []Variant

	Style Style

	// Command, when set, is a subcommand named after the strategy that
	// inspects or steers it from outside its processes (`offload queue
	// stats`, `offload eventbus replay`).
	Command *Command
}

// Command is a strategy's own `offload NAME ...` subcommand.
type Command struct {
	Summary string // one line for `offload help`
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// Variant is a second configuration of a strategy, run as its own series.
type Variant struct {
	Name string // recorded in results as the run's variant, e.g. "transport=zmq"
	// Transport is the --transport both sides are given ("" = default).
	Transport string
	// FreshEndpoint names a flag that gets a fresh tcp://127.0.0.1:PORT,
	// the same on the web side and every worker (zmq's --zmq).
	FreshEndpoint string
	// Broker is the Redis the bench starts for this variant: "" one
	// redis-server, BrokerCluster a 3-master cluster with a replica each,
	// BrokerReplica one master with a replica behind a stable endpoint.
	Broker string
	// Args are given to the web process and every worker (--shards 3,
	// --durable wait).
	Args []string
	NA   map[string]string // further scenarios that make no sense for this variant
	// Scenarios, when set, are the only ones the variant runs; the others
	// are n/a for the reason Why. A variant exists to answer one question
	// (what a failover costs, what WAIT buys): the scenarios that only
	// test the web process and the workers say nothing new there and
	// would cost bench time.
	Scenarios []string
	Why       string
	// Quick are the scenarios it runs under --quick; none: the full bench
	// only.
	Quick []string
	// Extended marks a variant the default full bench leaves out to stay
	// within its time: `offload bench --variants all` runs it.
	Extended bool
	Style    Style // how charts draw it; the zero Style: the strategy's colour, dashed
}

// Brokers a variant can ask for.
const (
	BrokerCluster = "cluster"
	BrokerReplica = "replica"
)

// Style is how charts draw a series.
type Style struct {
	Color string    // "#rrggbb"
	Dash  []float64 // line dash pattern in points; nil: solid
}

// Layout is how a strategy's processes are arranged.
type Layout int

const (
	// WebOnly: one `offload serve`; the jobs run inside it.
	WebOnly Layout = iota
	// Supervised: one `offload run` whose children are a `serve` web
	// process and a `work` worker; it restarts them itself.
	Supervised
	// Brokered: one `offload serve` and `offload work` processes that take
	// jobs from a broker (or directly from the web side over zmq).
	Brokered
)

// Layout follows from what the strategy provides.
func (e Entry) Layout() Layout {
	switch {
	case e.Run != nil:
		return Supervised
	case e.Worker != nil:
		return Brokered
	}
	return WebOnly
}

// HasWorkers reports whether jobs run in `offload work` processes.
func (e Entry) HasWorkers() bool { return e.Worker != nil }

// WantsRedis reports whether the strategy needs Redis over transport.
func (e Entry) WantsRedis(transport string) bool {
	return e.Redis && !slices.Contains(e.NoRedisTransports, transport)
}

// WebConstructor registers the strategy's web flags on fs (if it has any)
// and returns the constructor to call once fs is parsed.
func (e Entry) WebConstructor(fs *flag.FlagSet) func(strategies.Config) (strategies.Strategy, error) {
	if e.WebFlags != nil {
		return e.WebFlags(fs)
	}
	return e.New
}

// NAReason says why scenario makes no sense for the strategy in variant v
// ("" if it does).
func (e Entry) NAReason(scenario string, v Variant) string {
	if r := v.NA[scenario]; r != "" {
		return r
	}
	if len(v.Scenarios) > 0 && !slices.Contains(v.Scenarios, scenario) {
		return fmt.Sprintf("variant %s runs only %s: %s", v.Name, strings.Join(v.Scenarios, ", "), v.Why)
	}
	if scenario == "broker-failover" && v.Broker == "" {
		return "needs a replicated broker: runs in the cluster and replica variants"
	}
	if scenario == "broker-restart" && v.Broker != "" {
		return "a replicated broker fails over instead of restarting: see broker-failover"
	}
	return e.NA[scenario]
}

// Order is the entry's place in the talk's order (0 first), -1 if unknown.
func Order(name string) int {
	return slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name })
}

// SeriesStyle is how charts draw the strategy in variant v: a variant
// keeps the strategy's colour and is dashed unless it says otherwise.
func (e Entry) SeriesStyle(v Variant) Style {
	s := e.Style
	if v.Name == "" {
		return s
	}
	if v.Style.Color != "" {
		s.Color = v.Style.Color
	}
	s.Dash = v.Style.Dash
	if s.Dash == nil {
		s.Dash = []float64{2, 2}
	}
	return s
}

// ResultStyle is what a run in variant v records for reports (they read
// nothing but results.json): its place, label, colour and dash.
func (e Entry) ResultStyle(v Variant) *results.Style {
	s := e.SeriesStyle(v)
	label := e.Name
	if v.Name != "" {
		label += " (" + v.Name + ")"
	}
	return &results.Style{Order: Order(e.Name), Label: label, Color: s.Color, Dash: s.Dash}
}

// Durable lists the strategies that honour --durable wait.
func Durable() []string {
	var out []string
	for _, e := range entries {
		if e.Durable {
			out = append(out, e.Name)
		}
	}
	return out
}

// All lists every entry in the talk's order.
func All() []Entry { return slices.Clone(entries) }

// Names lists the strategies in the talk's order.
func Names() []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name
	}
	return out
}

// Lookup returns the entry for name, or an error that lists the valid names.
func Lookup(name string) (Entry, error) {
	if i := Order(name); i >= 0 {
		return entries[i], nil
	}
	return Entry{}, fmt.Errorf("unknown strategy %q: use one of %s", name, strings.Join(Names(), ", "))
}
