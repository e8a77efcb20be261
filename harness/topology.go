package harness

import "slices"

// Layout is how a strategy's processes are arranged.
type Layout int

const (
	// WebOnly: one `offload serve`; the jobs run inside it.
	WebOnly Layout = iota
	// Supervised: one `offload run` supervisor whose children are a
	// `serve` web process and a `work` worker; it restarts them itself.
	Supervised
	// Brokered: a redis-server, one `offload serve`, and `offload work`
	// processes that take jobs from the broker.
	Brokered
)

// Topology says which processes a strategy needs and which scenarios make
// no sense for it, with the reason. The harness knows nothing else about a
// strategy.
type Topology struct {
	Layout Layout
	Redis  bool
	// WorkerArgs are added to `offload work --strategy NAME ...` for each
	// of the N job workers.
	WorkerArgs []string
	// Extra are further fixed worker processes (role -> added args), one
	// each, whatever N is.
	Extra    map[string][]string
	NA       map[string]string // scenario -> why it makes no sense
	Variants []Variant         // further configurations run through the same scenarios
}

// Variant is a second configuration of a strategy (pubsub over zmq).
type Variant struct {
	Name    string            // recorded in Run.Variant
	ZMQ     bool              // --transport zmq with a fresh tcp endpoint on both sides
	NoRedis bool              // this variant needs no redis-server
	NA      map[string]string // scenarios that make no sense for this variant
	Full    bool              // only in the full bench, not --quick
}

// inWebProcess is why worker and broker faults make no sense when the job
// runs in the web process.
var inWebProcess = map[string]string{
	"worker-crash":   "no worker process: the jobs run inside the web process (web-crash covers its failure)",
	"broker-restart": "no broker: the jobs never leave the web process",
	"scale":          "no workers to scale: the jobs run inside the web process",
}

// Topologies is the whole table, one entry per strategy.
var Topologies = map[string]Topology{
	"foreground": {Layout: WebOnly, NA: inWebProcess},
	"fireforget": {Layout: WebOnly, NA: inWebProcess},
	"localipc": {Layout: Supervised, NA: map[string]string{
		"broker-restart": "no broker: the supervisor hands jobs to its worker child over local IPC",
		"scale":          "one worker child by design: the supervisor's in-memory queue feeds exactly one worker",
	}},
	"pubsub": {Layout: Brokered, Redis: true, Variants: []Variant{{
		Name: "transport=zmq", ZMQ: true, NoRedis: true, Full: true,
		NA: map[string]string{"broker-restart": "transport=zmq has no broker: the web process talks to workers directly"},
	}}},
	// The queue reclaims a silent worker's jobs after --reclaim-after
	// (default 15s) and retries a failed send after --backoff (default 1s,
	// doubling); the event bus retries a temporary failure in process after
	// --backoff (default 200ms, doubling) and claims a dead consumer's
	// entries after --claim-idle (default 30s). Shortened so recovery fits
	// inside a run's drain phase; both still exceed the slowest job (the cpu
	// scenario's).
	"queue": {Layout: Brokered, Redis: true, WorkerArgs: []string{"--reclaim-after", "1s", "--backoff", "250ms"}},
	"eventbus": {Layout: Brokered, Redis: true,
		WorkerArgs: []string{"--group", "email", "--handler", "email", "--claim-idle", "1s"},
		Extra:      map[string][]string{"audit": {"--group", "audit", "--handler", "audit"}},
	},
}

// NAReason says why scenario makes no sense for strategy in variant v ("" if it does).
func NAReason(strategy, scenario string, v Variant) string {
	t, ok := Topologies[strategy]
	if !ok {
		return ""
	}
	if r := v.NA[scenario]; r != "" {
		return r
	}
	return t.NA[scenario]
}

// Known reports whether the harness has a topology for strategy.
func Known(strategy string) bool { _, ok := Topologies[strategy]; return ok }

// StrategyOrder is the order the talk presents the strategies in.
var StrategyOrder = []string{"foreground", "fireforget", "localipc", "pubsub", "queue", "eventbus"}

// IsStrategy reports whether name is one the harness can run.
func IsStrategy(name string) bool { return slices.Contains(StrategyOrder, name) }
